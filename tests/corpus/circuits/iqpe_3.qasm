// MQT Bench 'iqpe', circuit_size=3, level indep (2 qubits, 9 operations); OpenQASM 3: conditions on single bits
OPENQASM 3.0;
include "stdgates.inc";
bit[2] c;
qubit[1] q;
qubit[1] psi;
x psi[0];
c[1] = measure q[0];
if (c[1]) {
  x q[0];
}
h q[0];
cp(pi) psi[0], q[0];
if (c[1]) {
  rz(-pi/2) q[0];
}
h q[0];
c[0] = measure q[0];
if (c[0]) {
  x q[0];
}
