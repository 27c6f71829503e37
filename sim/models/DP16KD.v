// Behavioural simulation model of the Lattice ECP5 DP16KD block RAM (16 Kib + parity), for the
// configurations yosys's synth_ecp5 maps memories to and systole.outreg then changes: true dual
// port with data widths 1, 2, 4, 9 and 18 per port, or pseudo dual port at 36 (write on A, read
// on B, the read word on DOA (bits 17:0) and DOB (35:18)); chip selects decoded as 0b000; clocks
// not inverted; a read-before-write, write-through or normal (output held while writing) mode
// per port; the output latched on CE, then through the output register on OCE with
// REGMODE=OUTREG (one cycle more) or straight out with NOREG; RST clears both at the clock edge
// (the asynchronous mode's timing is not modelled). In 18 and 36 bit modes the low address bits are byte write enables (9-bit bytes).
// Reads on both ports happen before writes in the same clock edge (a collision reads the old
// word). Written from Lattice's ECP5 memory usage guide (FPGA-TN-02204). The widths 1, 2 and 4
// address the 16,384 data bits without the parity bits, low bits first within each 18-bit
// word; that layout is an assumption no test here depends on (mixed widths in one block).
// Anything else stops the simulation at time 0, so a silently unsupported mode cannot pass.
// yosys ships DP16KD only as a black box (share/ecp5/cells_sim.v), hence this model.
`timescale 1ns / 1ps
module DP16KD (
    input DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9,
    input DIA8, DIA7, DIA6, DIA5, DIA4, DIA3, DIA2, DIA1, DIA0,
    input ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2, ADA1, ADA0,
    input CEA, OCEA, CLKA, WEA, RSTA,
    input CSA2, CSA1, CSA0,
    output DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9,
    output DOA8, DOA7, DOA6, DOA5, DOA4, DOA3, DOA2, DOA1, DOA0,
    input DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9,
    input DIB8, DIB7, DIB6, DIB5, DIB4, DIB3, DIB2, DIB1, DIB0,
    input ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2, ADB1, ADB0,
    input CEB, OCEB, CLKB, WEB, RSTB,
    input CSB2, CSB1, CSB0,
    output DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9,
    output DOB8, DOB7, DOB6, DOB5, DOB4, DOB3, DOB2, DOB1, DOB0
);
    parameter DATA_WIDTH_A = 18;
    parameter DATA_WIDTH_B = 18;
    parameter REGMODE_A = "NOREG";
    parameter REGMODE_B = "NOREG";
    parameter RESETMODE = "SYNC";
    parameter ASYNC_RESET_RELEASE = "SYNC";
    parameter WRITEMODE_A = "NORMAL";
    parameter WRITEMODE_B = "NORMAL";
    parameter CSDECODE_A = "0b000";
    parameter CSDECODE_B = "0b000";
    parameter CLKAMUX = "CLKA";
    parameter CLKBMUX = "CLKB";
    parameter GSR = "ENABLED";
    parameter INIT_DATA = "STATIC";
    // The initial contents (INITVAL_00..3F) are accepted and ignored: memories start as zero.

    localparam PDP = DATA_WIDTH_A == 36 || DATA_WIDTH_B == 36;

    wire [17:0] dia = {DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9,
                       DIA8, DIA7, DIA6, DIA5, DIA4, DIA3, DIA2, DIA1, DIA0};
    wire [17:0] dib = {DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9,
                       DIB8, DIB7, DIB6, DIB5, DIB4, DIB3, DIB2, DIB1, DIB0};
    wire [13:0] ada = {ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3,
                       ADA2, ADA1, ADA0};
    wire [13:0] adb = {ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3,
                       ADB2, ADB1, ADB0};

    reg [17:0] words [0:1023];          // 1,024 words of 18 bits (two 9-bit bytes)
    reg [17:0] latch_a = 0, latch_b = 0, out_a = 0, out_b = 0;
    integer i;

    function supported_width(input integer width);
        supported_width = width == 1 || width == 2 || width == 4 || width == 9 || width == 18;
    endfunction

    initial begin
        for (i = 0; i < 1024; i = i + 1) words[i] = 0;
        if (!((PDP && DATA_WIDTH_A == 36 && DATA_WIDTH_B == 36)
              || (!PDP && supported_width(DATA_WIDTH_A) && supported_width(DATA_WIDTH_B)))
            || (REGMODE_A != "NOREG" && REGMODE_A != "OUTREG")
            || (REGMODE_B != "NOREG" && REGMODE_B != "OUTREG")
            || (RESETMODE != "SYNC" && RESETMODE != "ASYNC")
            || CSDECODE_A != "0b000" || CSDECODE_B != "0b000"
            || CLKAMUX != "CLKA" || CLKBMUX != "CLKB"
            || (WRITEMODE_A != "NORMAL" && WRITEMODE_A != "WRITETHROUGH"
                && WRITEMODE_A != "READBEFOREWRITE")
            || (WRITEMODE_B != "NORMAL" && WRITEMODE_B != "WRITETHROUGH"
                && WRITEMODE_B != "READBEFOREWRITE")) begin
            $display("DP16KD model: unsupported configuration");
            $fatal(1);
        end
    end

    // The bit of the 18-bit words holding data bit n (n < 16384) at widths 1, 2 and 4.
    function integer data_bit(input integer n);
        data_bit = (n % 16 < 8) ? n % 16 : n % 16 + 1;
    endfunction

    // Read the element at address ``ad`` of a port of width ``width`` (not 36).
    function [17:0] read_word(input integer width, input [13:0] ad);
        integer n, k;
        begin
            read_word = 0;
            case (width)
                18: read_word = words[ad[13:4]];
                9: read_word = ad[3] ? words[ad[13:4]][17:9] : words[ad[13:4]][8:0];
                default: begin
                    n = ad / width * width;
                    for (k = 0; k < width; k = k + 1)
                        read_word[k] = words[(n + k) / 16][data_bit(n + k)];
                end
            endcase
        end
    endfunction

    // Write ``data`` at address ``ad`` of a port of width ``width`` (not 36).
    task write_word(input integer width, input [13:0] ad, input [17:0] data);
        integer n, k;
        begin
            case (width)
                18: begin
                    if (ad[0]) words[ad[13:4]][8:0] = data[8:0];
                    if (ad[1]) words[ad[13:4]][17:9] = data[17:9];
                end
                9: if (ad[3]) words[ad[13:4]][17:9] = data[8:0];
                   else words[ad[13:4]][8:0] = data[8:0];
                default: begin
                    n = ad / width * width;
                    for (k = 0; k < width; k = k + 1)
                        words[(n + k) / 16][data_bit(n + k)] = data[k];
                end
            endcase
        end
    endtask

    // Both ports share one clock edge in every design systole builds (a model with one edge
    // per port would order the two ports' reads and writes by simulation event order): port
    // B, when it is used, must run on CLKA.
    reg [17:0] next_a, next_b;
    always @(posedge CLKA) begin
        if (CLKB !== CLKA && (PDP || CEB !== 1'b0)) begin
            $display("DP16KD model: CLKA and CLKB must be one clock");
            $fatal(1);
        end
        // Reads first (a collision returns the old word), writes second.
        next_a = latch_a;
        next_b = latch_b;
        if (PDP) begin
            if (CEB) begin
                next_a = words[{adb[13:5], 1'b0}];
                next_b = words[{adb[13:5], 1'b1}];
            end
        end else begin
            if (CEA && !(WEA && WRITEMODE_A == "NORMAL"))
                next_a = (WEA && WRITEMODE_A == "WRITETHROUGH") ? dia
                         : read_word(DATA_WIDTH_A, ada);
            if (CEB && !(WEB && WRITEMODE_B == "NORMAL"))
                next_b = (WEB && WRITEMODE_B == "WRITETHROUGH") ? dib
                         : read_word(DATA_WIDTH_B, adb);
        end
        if (PDP) begin
            if (CEA && WEA) begin
                if (ada[0]) words[{ada[13:5], 1'b0}][8:0] = dia[8:0];
                if (ada[1]) words[{ada[13:5], 1'b0}][17:9] = dia[17:9];
                if (ada[2]) words[{ada[13:5], 1'b1}][8:0] = dib[8:0];
                if (ada[3]) words[{ada[13:5], 1'b1}][17:9] = dib[17:9];
            end
        end else begin
            if (CEA && WEA) write_word(DATA_WIDTH_A, ada, dia);
            if (CEB && WEB) write_word(DATA_WIDTH_B, adb, dib);
        end
        // The output registers load the latches as they were before this edge.
        if (PDP ? RSTB : RSTA) out_a <= 0; else if (OCEA) out_a <= latch_a;
        if (RSTB) out_b <= 0; else if (OCEB) out_b <= latch_b;
        latch_a <= (PDP ? RSTB : RSTA) ? 18'd0 : next_a;
        latch_b <= RSTB ? 18'd0 : next_b;
    end

    wire [17:0] doa = REGMODE_A == "OUTREG" ? out_a : latch_a;
    wire [17:0] dob = REGMODE_B == "OUTREG" ? out_b : latch_b;
    assign {DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9,
            DOA8, DOA7, DOA6, DOA5, DOA4, DOA3, DOA2, DOA1, DOA0} = doa;
    assign {DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9,
            DOB8, DOB7, DOB6, DOB5, DOB4, DOB3, DOB2, DOB1, DOB0} = dob;
endmodule
