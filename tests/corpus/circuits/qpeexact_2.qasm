// MQT Bench 'qpeexact', circuit_size=2, level indep (2 qubits, 5 operations)
OPENQASM 2.0;
include "qelib1.inc";
qreg q[1];
qreg psi[1];
creg c[1];
h q[0];
x psi[0];
cp(pi) psi[0],q[0];
h q[0];
barrier q[0],psi[0];
measure q[0] -> c[0];