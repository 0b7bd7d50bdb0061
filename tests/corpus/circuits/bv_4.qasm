// MQT Bench 'bv', circuit_size=4, level indep (4 qubits, 7 operations)
OPENQASM 2.0;
include "qelib1.inc";
qreg q[4];
creg c[3];
x q[0];
h q[2];
cz q[2],q[0];
h q[2];
measure q[1] -> c[0];
measure q[2] -> c[1];
measure q[3] -> c[2];