// IPE, 4 bits, of the phase 0.3 (not a 4-bit fraction: a spread of readings).
OPENQASM 3.0;
include "stdgates.inc";
bit[4] c;
qubit[2] q;
x q[1];
h q[0];
cp(24*pi/5) q[0], q[1];
h q[0];
c[0] = measure q[0];
reset q[0];
h q[0];
cp(12*pi/5) q[0], q[1];
if (c[0]) {
  p(-pi/2) q[0];
}
h q[0];
c[1] = measure q[0];
reset q[0];
h q[0];
cp(6*pi/5) q[0], q[1];
if (c[0]) {
  p(-pi/4) q[0];
}
if (c[1]) {
  p(-pi/2) q[0];
}
h q[0];
c[2] = measure q[0];
reset q[0];
h q[0];
cp(3*pi/5) q[0], q[1];
if (c[0]) {
  p(-pi/8) q[0];
}
if (c[1]) {
  p(-pi/4) q[0];
}
if (c[2]) {
  p(-pi/2) q[0];
}
h q[0];
c[3] = measure q[0];
