// Teleport ry(1.1)|0> from q0 to q2 with feed-forward X/Z corrections.
OPENQASM 3.0;
include "stdgates.inc";
bit[2] m;
bit[1] out;
qubit[3] q;
ry(1.1) q[0];
h q[1];
cx q[1], q[2];
cx q[0], q[1];
h q[0];
m[0] = measure q[0];
m[1] = measure q[1];
if (m[1]) {
  x q[2];
}
if (m[0]) {
  z q[2];
}
out[0] = measure q[2];
