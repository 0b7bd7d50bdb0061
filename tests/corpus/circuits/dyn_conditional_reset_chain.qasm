// Six qubits: a GHZ pair measured mid-circuit, then feed-forward and reset
OPENQASM 3.0;
include "stdgates.inc";
bit[2] mid;
bit[6] fin;
qubit[6] q;
h q[0];
cx q[0], q[1];
ry(0.5) q[2];
mid[0] = measure q[0];
mid[1] = measure q[2];
if (mid[0]) {
  x q[3];
  cx q[3], q[4];
}
if (mid == 2) {
  h q[5];
}
reset q[0];
cx q[1], q[0];
fin[0] = measure q[0];
fin[1] = measure q[1];
fin[2] = measure q[2];
fin[3] = measure q[3];
fin[4] = measure q[4];
fin[5] = measure q[5];
