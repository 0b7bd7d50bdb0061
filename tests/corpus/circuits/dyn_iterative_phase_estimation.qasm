// IPE, 3 bits, of the exact phase 5/8: ``c`` reads ``101`` with certainty.
OPENQASM 3.0;
include "stdgates.inc";
bit[3] c;
qubit[2] q;
x q[1];
h q[0];
cp(5*pi) q[0], q[1];
h q[0];
c[0] = measure q[0];
reset q[0];
h q[0];
cp(5*pi/2) q[0], q[1];
if (c[0]) {
  p(-pi/2) q[0];
}
h q[0];
c[1] = measure q[0];
reset q[0];
h q[0];
cp(5*pi/4) q[0], q[1];
if (c[0]) {
  p(-pi/4) q[0];
}
if (c[1]) {
  p(-pi/2) q[0];
}
h q[0];
c[2] = measure q[0];
