// MQT Bench 'randomcircuit', circuit_size=6, level indep (6 qubits, 31 operations)
OPENQASM 2.0;
include "qelib1.inc";
gate ecr q0,q1 { s q0; sx q1; cx q0,q1; x q0; }
gate ccz q0,q1,q2 { h q2; ccx q0,q1,q2; h q2; }
qreg q[6];
creg meas[6];
cry(2.125069481984559) q[4],q[1];
cswap q[5],q[2],q[0];
c3sqrtx q[1],q[5],q[2],q[0];
tdg q[1];
cz q[2],q[3];
t q[2];
ecr q[4],q[0];
cry(4.875952527358193) q[5],q[4];
ccx q[2],q[4],q[0];
ccx q[3],q[5],q[1];
rccx q[1],q[0],q[3];
rccx q[4],q[5],q[2];
rccx q[1],q[5],q[0];
ccx q[3],q[2],q[4];
ccx q[0],q[4],q[3];
cy q[1],q[2];
ccz q[1],q[3],q[0];
rzz(3.0727799917118745) q[4],q[2];
ccz q[3],q[1],q[4];
sx q[1];
h q[5];
rccx q[0],q[5],q[2];
ccx q[0],q[3],q[4];
rccx q[1],q[4],q[3];
csx q[5],q[0];
barrier q[0],q[1],q[2],q[3],q[4],q[5];
measure q[0] -> meas[0];
measure q[1] -> meas[1];
measure q[2] -> meas[2];
measure q[3] -> meas[3];
measure q[4] -> meas[4];
measure q[5] -> meas[5];