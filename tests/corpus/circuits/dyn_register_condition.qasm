// A gate conditioned on a whole register's value (``m == 3``) and an else branch.
OPENQASM 3.0;
include "stdgates.inc";
bit[2] m;
bit[1] r;
qubit[3] q;
h q[0];
ry(1.9) q[1];
m[0] = measure q[0];
m[1] = measure q[1];
if (m == 3) {
  x q[2];
} else {
  ry(0.8) q[2];
}
r[0] = measure q[2];
