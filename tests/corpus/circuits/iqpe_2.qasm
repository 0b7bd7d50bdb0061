// MQT Bench 'iqpe', circuit_size=2, level indep (2 qubits, 6 operations); OpenQASM 3: conditions on single bits
OPENQASM 3.0;
include "stdgates.inc";
bit[1] c;
qubit[1] q;
qubit[1] psi;
h q[0];
x psi[0];
cp(pi) psi[0], q[0];
h q[0];
c[0] = measure q[0];
if (c[0]) {
  x q[0];
}
