// MQT Bench 'qnn', circuit_size=2, level indep (2 qubits, 7 operations)
OPENQASM 2.0;
include "qelib1.inc";
qreg q[2];
creg meas[2];
u3(0.8689463055797079,2.5164277866142335,2.95024981375329) q[0];
u3(2.3704106149652255,2.4638235912331456,-3.066168792403989) q[1];
cx q[0],q[1];
ry(3.2220464314480877) q[0];
ry(0.8540080589393146) q[1];
barrier q[0],q[1];
measure q[0] -> meas[0];
measure q[1] -> meas[1];