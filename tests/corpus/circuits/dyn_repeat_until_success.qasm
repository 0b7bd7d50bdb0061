// Repeat-until-success, unrolled to three attempts.
OPENQASM 3.0;
include "stdgates.inc";
bit[3] a;
bit[1] res;
qubit[2] q;
h q[0];
cry(2.0) q[0], q[1];
ry(0.6) q[1];
a[0] = measure q[0];
if (a[0]) {
  reset q[0];
  reset q[1];
  h q[0];
  cry(2.0) q[0], q[1];
  ry(0.6) q[1];
  a[1] = measure q[0];
  if (a[1]) {
    reset q[0];
    reset q[1];
    h q[0];
    cry(2.0) q[0], q[1];
    ry(0.6) q[1];
    a[2] = measure q[0];
  }
}
res[0] = measure q[1];
