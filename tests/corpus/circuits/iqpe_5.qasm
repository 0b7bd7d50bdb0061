// MQT Bench 'iqpe', circuit_size=5, level indep (2 qubits, 27 operations); OpenQASM 3: conditions on single bits
OPENQASM 3.0;
include "stdgates.inc";
bit[4] c;
qubit[1] q;
qubit[1] psi;
h q[0];
x psi[0];
cp(pi) psi[0], q[0];
h q[0];
c[3] = measure q[0];
if (c[3]) {
  x q[0];
}
h q[0];
cp(pi/2) psi[0], q[0];
if (c[3]) {
  rz(-pi/2) q[0];
}
h q[0];
c[2] = measure q[0];
if (c[2]) {
  x q[0];
}
h q[0];
cp(pi/4) psi[0], q[0];
if (c[2]) {
  rz(-pi/2) q[0];
}
if (c[3]) {
  rz(-pi/4) q[0];
}
h q[0];
c[1] = measure q[0];
if (c[1]) {
  x q[0];
}
h q[0];
cp(9*pi/8) psi[0], q[0];
if (c[1]) {
  rz(-pi/2) q[0];
}
if (c[2]) {
  rz(-pi/4) q[0];
}
if (c[3]) {
  rz(-pi/8) q[0];
}
h q[0];
c[0] = measure q[0];
if (c[0]) {
  x q[0];
}
