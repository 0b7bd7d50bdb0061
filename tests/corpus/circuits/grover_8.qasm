// MQT Bench 'grover', circuit_size=8, level indep (8 qubits, 24 operations)
OPENQASM 2.0;
include "qelib1.inc";
gate mcphase(param0) q0,q1,q2,q3,q4,q5,q6,q7 { cp(pi/2) q6,q7; cp(pi/4) q5,q7; crx(pi/2) q5,q6; cp(pi/8) q4,q7; crx(pi/4) q4,q6; cp(pi/16) q3,q7; crx(pi/2) q4,q5; crx(pi/8) q3,q6; cp(pi/32) q2,q7; crx(pi/4) q3,q5; crx(pi/16) q2,q6; cp(pi/64) q1,q7; crx(pi/2) q3,q4; crx(pi/8) q2,q5; crx(pi/32) q1,q6; cp(pi/64) q0,q7; crx(pi/4) q2,q4; crx(pi/16) q1,q5; crx(pi/32) q0,q6; crx(pi/2) q2,q3; crx(pi/8) q1,q4; crx(pi/16) q0,q5; crx(pi/4) q1,q3; crx(pi/8) q0,q4; crx(pi/2) q1,q2; crx(pi/4) q0,q3; crx(pi/2) q0,q2; crx(pi) q0,q1; crx(-pi/2) q1,q2; crx(-pi/4) q1,q3; crx(-pi/2) q2,q3; crx(-pi/8) q1,q4; crx(-pi/4) q2,q4; crx(-pi/16) q1,q5; crx(-pi/2) q3,q4; crx(-pi/8) q2,q5; crx(-pi/32) q1,q6; crx(-pi/4) q3,q5; crx(-pi/16) q2,q6; cp(-pi/64) q1,q7; crx(-pi/2) q4,q5; crx(-pi/8) q3,q6; cp(-pi/32) q2,q7; crx(-pi/4) q4,q6; cp(-pi/16) q3,q7; crx(-pi/2) q5,q6; cp(-pi/8) q4,q7; cp(-pi/4) q5,q7; cp(-pi/2) q6,q7; crx(pi/2) q5,q6; crx(pi/4) q4,q6; crx(pi/2) q4,q5; crx(pi/8) q3,q6; crx(pi/4) q3,q5; crx(pi/16) q2,q6; crx(pi/2) q3,q4; crx(pi/8) q2,q5; crx(pi/32) q1,q6; crx(pi/4) q2,q4; crx(pi/16) q1,q5; crx(-pi/32) q0,q6; crx(pi/2) q2,q3; crx(pi/8) q1,q4; crx(-pi/16) q0,q5; crx(pi/4) q1,q3; crx(-pi/8) q0,q4; crx(pi/2) q1,q2; crx(-pi/4) q0,q3; crx(-pi/2) q0,q2; crx(-pi) q0,q1; crx(-pi/2) q1,q2; crx(-pi/4) q1,q3; crx(-pi/2) q2,q3; crx(-pi/8) q1,q4; crx(-pi/4) q2,q4; crx(-pi/16) q1,q5; crx(-pi/2) q3,q4; crx(-pi/8) q2,q5; crx(-pi/32) q1,q6; crx(-pi/4) q3,q5; crx(-pi/16) q2,q6; crx(-pi/2) q4,q5; crx(-pi/8) q3,q6; crx(-pi/4) q4,q6; crx(-pi/2) q5,q6; }
gate mcx q0,q1,q2,q3,q4,q5,q6 { h q6; cp(pi/2) q5,q6; cp(pi/4) q4,q6; crx(pi/2) q4,q5; cp(pi/8) q3,q6; crx(pi/4) q3,q5; cp(pi/16) q2,q6; crx(pi/2) q3,q4; crx(pi/8) q2,q5; cp(pi/32) q1,q6; crx(pi/4) q2,q4; crx(pi/16) q1,q5; cp(pi/32) q0,q6; crx(pi/2) q2,q3; crx(pi/8) q1,q4; crx(pi/16) q0,q5; crx(pi/4) q1,q3; crx(pi/8) q0,q4; crx(pi/2) q1,q2; crx(pi/4) q0,q3; crx(pi/2) q0,q2; crx(pi) q0,q1; crx(-pi/2) q1,q2; crx(-pi/4) q1,q3; crx(-pi/2) q2,q3; crx(-pi/8) q1,q4; crx(-pi/4) q2,q4; crx(-pi/16) q1,q5; crx(-pi/2) q3,q4; crx(-pi/8) q2,q5; cp(-pi/32) q1,q6; crx(-pi/4) q3,q5; cp(-pi/16) q2,q6; crx(-pi/2) q4,q5; cp(-pi/8) q3,q6; cp(-pi/4) q4,q6; cp(-pi/2) q5,q6; crx(pi/2) q4,q5; crx(pi/4) q3,q5; crx(pi/2) q3,q4; crx(pi/8) q2,q5; crx(pi/4) q2,q4; crx(pi/16) q1,q5; crx(pi/2) q2,q3; crx(pi/8) q1,q4; crx(-pi/16) q0,q5; crx(pi/4) q1,q3; crx(-pi/8) q0,q4; crx(pi/2) q1,q2; crx(-pi/4) q0,q3; crx(-pi/2) q0,q2; crx(-pi) q0,q1; crx(-pi/2) q1,q2; crx(-pi/4) q1,q3; crx(-pi/2) q2,q3; crx(-pi/8) q1,q4; crx(-pi/4) q2,q4; crx(-pi/16) q1,q5; crx(-pi/2) q3,q4; crx(-pi/8) q2,q5; crx(-pi/4) q3,q5; crx(-pi/2) q4,q5; h q6; }
gate gate_Q q0,q1,q2,q3,q4,q5,q6,q7 { mcphase(pi) q0,q1,q2,q3,q4,q5,q6,q7; h q0; h q1; h q2; h q3; h q4; h q5; h q6; x q0; x q1; x q2; x q3; x q4; x q5; x q6; h q6; mcx q0,q1,q2,q3,q4,q5,q6; h q6; x q0; x q1; x q2; x q3; x q4; x q5; x q6; h q0; h q1; h q2; h q3; h q4; h q5; h q6; }
qreg q[7];
qreg flag[1];
creg meas[8];
h q[0];
h q[1];
h q[2];
h q[3];
h q[4];
h q[5];
h q[6];
x flag[0];
gate_Q q[0],q[1],q[2],q[3],q[4],q[5],q[6],flag[0];
gate_Q q[0],q[1],q[2],q[3],q[4],q[5],q[6],flag[0];
gate_Q q[0],q[1],q[2],q[3],q[4],q[5],q[6],flag[0];
gate_Q q[0],q[1],q[2],q[3],q[4],q[5],q[6],flag[0];
gate_Q q[0],q[1],q[2],q[3],q[4],q[5],q[6],flag[0];
gate_Q q[0],q[1],q[2],q[3],q[4],q[5],q[6],flag[0];
gate_Q q[0],q[1],q[2],q[3],q[4],q[5],q[6],flag[0];
gate_Q q[0],q[1],q[2],q[3],q[4],q[5],q[6],flag[0];
barrier q[0],q[1],q[2],q[3],q[4],q[5],q[6],flag[0];
measure q[0] -> meas[0];
measure q[1] -> meas[1];
measure q[2] -> meas[2];
measure q[3] -> meas[3];
measure q[4] -> meas[4];
measure q[5] -> meas[5];
measure q[6] -> meas[6];
measure flag[0] -> meas[7];