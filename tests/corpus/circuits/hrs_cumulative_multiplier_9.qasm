// MQT Bench 'hrs_cumulative_multiplier', circuit_size=9, level indep (9 qubits, 11 operations)
OPENQASM 2.0;
include "qelib1.inc";
gate mcphase(param0) q0,q1 { cp(-pi/4) q0,q1; }
gate mcphase_id1(param0) q0,q1 { cp(pi/4) q0,q1; }
gate mcphase_id2(param0) q0,q1 { cp(pi/4) q0,q1; }
gate mcphase_id3(param0) q0,q1 { cp(pi/4) q0,q1; }
gate mcphase_id4(param0) q0,q1 { cp(pi/4) q0,q1; }
gate mcphase_id5(param0) q0,q1 { cp(pi/4) q0,q1; }
gate mcphase_id6(param0) q0,q1 { cp(pi/4) q0,q1; }
gate mcphase_id7(param0) q0,q1 { cp(pi/4) q0,q1; }
gate mcphase_id8(param0) q0,q1 { cp(pi/4) q0,q1; }
gate mcphase_id9(param0) q0,q1 { cp(pi/4) q0,q1; }
gate mcphase_id10(param0) q0,q1 { cp(pi/4) q0,q1; }
gate mcphase_id11(param0) q0,q1 { cp(pi/4) q0,q1; }
gate mcphase_id12(param0) q0,q1 { cp(pi/4) q0,q1; }
gate mcphase_id13(param0) q0,q1 { cp(pi/4) q0,q1; }
gate mcphase_id14(param0) q0,q1 { cp(pi/4) q0,q1; }
gate mcphase_id15(param0) q0,q1 { cp(pi/4) q0,q1; }
gate mcphase_id16(param0) q0,q1 { cp(pi/4) q0,q1; }
gate ccircuit_1494 q0,q1,q2,q3,q4,q5,q6 { ccx q0,q1,q3; ccx q0,q2,q4; ccx q0,q1,q6; s q1; h q1; t q1; cx q0,q1; tdg q1; h q1; sdg q1; ccx q0,q3,q1; mcphase(-pi/4) q0,q1; ccx q0,q6,q1; mcphase_id1(pi/4) q0,q1; ccx q0,q3,q1; mcphase(-pi/4) q0,q1; mcphase_id2(pi/4) q0,q3; ccx q0,q6,q1; mcphase_id3(pi/4) q0,q1; s q1; h q1; t q1; cx q0,q1; tdg q1; h q1; sdg q1; ccx q0,q2,q1; s q2; h q2; t q2; cx q0,q2; tdg q2; h q2; sdg q2; ccx q0,q4,q2; mcphase(-pi/4) q0,q2; ccx q0,q1,q2; mcphase_id4(pi/4) q0,q2; ccx q0,q4,q2; mcphase(-pi/4) q0,q2; ccx q0,q1,q2; mcphase_id5(pi/4) q0,q2; s q2; h q2; t q2; cx q0,q2; tdg q2; h q2; sdg q2; ccx q0,q2,q5; s q2; h q2; t q2; cx q0,q2; tdg q2; h q2; sdg q2; mcphase_id6(pi/4) q0,q4; ccx q0,q1,q4; mcphase_id7(pi/4) q0,q1; mcphase(-pi/4) q0,q4; ccx q0,q1,q4; ccx q0,q4,q2; mcphase(-pi/4) q0,q2; ccx q0,q1,q2; mcphase_id8(pi/4) q0,q2; ccx q0,q4,q2; mcphase(-pi/4) q0,q2; ccx q0,q1,q2; mcphase_id9(pi/4) q0,q2; s q2; h q2; t q2; cx q0,q2; tdg q2; h q2; sdg q2; mcphase_id10(pi/4) q0,q4; ccx q0,q1,q4; mcphase_id11(pi/4) q0,q1; mcphase(-pi/4) q0,q4; ccx q0,q1,q4; ccx q0,q2,q1; ccx q0,q1,q4; s q1; h q1; t q1; cx q0,q1; tdg q1; h q1; sdg q1; ccx q0,q6,q3; mcphase(-pi/4) q0,q3; mcphase_id12(pi/4) q0,q6; ccx q0,q6,q3; ccx q0,q3,q1; mcphase(-pi/4) q0,q1; ccx q0,q6,q1; mcphase_id13(pi/4) q0,q1; ccx q0,q3,q1; mcphase(-pi/4) q0,q1; mcphase_id14(pi/4) q0,q3; ccx q0,q6,q1; mcphase_id15(pi/4) q0,q1; s q1; h q1; t q1; cx q0,q1; tdg q1; h q1; sdg q1; ccx q0,q6,q3; mcphase(-pi/4) q0,q3; mcphase_id16(pi/4) q0,q6; ccx q0,q6,q3; ccx q0,q1,q6; ccx q0,q6,q3; }
qreg a[2];
qreg b[2];
qreg out[4];
qreg helper[1];
creg meas[9];
ccircuit_1494 a[0],b[0],b[1],out[0],out[1],out[2],helper[0];
ccircuit_1494 a[1],b[0],b[1],out[1],out[2],out[3],helper[0];
barrier a[0],a[1],b[0],b[1],out[0],out[1],out[2],out[3],helper[0];
measure a[0] -> meas[0];
measure a[1] -> meas[1];
measure b[0] -> meas[2];
measure b[1] -> meas[3];
measure out[0] -> meas[4];
measure out[1] -> meas[5];
measure out[2] -> meas[6];
measure out[3] -> meas[7];
measure helper[0] -> meas[8];