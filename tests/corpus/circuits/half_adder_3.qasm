// MQT Bench 'half_adder', circuit_size=3, level indep (3 qubits, 5 operations)
OPENQASM 2.0;
include "qelib1.inc";
qreg q[3];
creg meas[3];
ccx q[0],q[1],q[2];
cx q[0],q[1];
barrier q[0],q[1],q[2];
measure q[0] -> meas[0];
measure q[1] -> meas[1];
measure q[2] -> meas[2];