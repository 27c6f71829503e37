// Behavioural simulation model of the Lattice ECP5 MULT18X18D DSP block, for the subset of
// configurations systole uses (hw/mult.py: Ecp5Multiplier, ecp5_registered_product): input A and
// C unregistered, input B registered or not, no pipeline register, output registered or not, any
// CE/RST selection of CE0-CE3/RST0-RST3, synchronous reset, clock CLK0, parallel sources, signed
// or unsigned operands. Written from Lattice's ECP5 sysDSP usage guide (FPGA-TN-02205: register
// clock, clock enable and synchronous reset selection per register). Anything else stops the
// simulation at time 0, so a silently unsupported mode cannot pass a test. yosys ships
// MULT18X18D only as a black box (share/ecp5/cells_bb.v), hence this model.
`timescale 1ns / 1ps
module MULT18X18D (
    input A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0,
    input B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0,
    input C17, C16, C15, C14, C13, C12, C11, C10, C9, C8, C7, C6, C5, C4, C3, C2, C1, C0,
    input SRIA17, SRIA16, SRIA15, SRIA14, SRIA13, SRIA12, SRIA11, SRIA10, SRIA9, SRIA8, SRIA7, SRIA6, SRIA5, SRIA4, SRIA3, SRIA2, SRIA1, SRIA0,
    input SRIB17, SRIB16, SRIB15, SRIB14, SRIB13, SRIB12, SRIB11, SRIB10, SRIB9, SRIB8, SRIB7, SRIB6, SRIB5, SRIB4, SRIB3, SRIB2, SRIB1, SRIB0,
    input SIGNEDA, SIGNEDB, SOURCEA, SOURCEB,
    input CLK3, CLK2, CLK1, CLK0,
    input CE3, CE2, CE1, CE0,
    input RST3, RST2, RST1, RST0,
    output P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18, P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0
);
    parameter REG_INPUTA_CLK = "NONE";
    parameter REG_INPUTA_CE = "CE0";
    parameter REG_INPUTA_RST = "RST0";
    parameter REG_INPUTB_CLK = "NONE";
    parameter REG_INPUTB_CE = "CE0";
    parameter REG_INPUTB_RST = "RST0";
    parameter REG_INPUTC_CLK = "NONE";
    parameter REG_INPUTC_CE = "CE0";
    parameter REG_INPUTC_RST = "RST0";
    parameter REG_PIPELINE_CLK = "NONE";
    parameter REG_PIPELINE_CE = "CE0";
    parameter REG_PIPELINE_RST = "RST0";
    parameter REG_OUTPUT_CLK = "NONE";
    parameter REG_OUTPUT_CE = "CE0";
    parameter REG_OUTPUT_RST = "RST0";
    parameter CLK0_DIV = "ENABLED";
    parameter CLK1_DIV = "ENABLED";
    parameter CLK2_DIV = "ENABLED";
    parameter CLK3_DIV = "ENABLED";
    parameter HIGHSPEED_CLK = "NONE";
    parameter GSR = "ENABLED";
    parameter CAS_MATCH_REG = "FALSE";
    parameter SOURCEB_MODE = "B_SHIFT";
    parameter MULT_BYPASS = "DISABLED";
    parameter RESETMODE = "SYNC";

    wire [17:0] a = {A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0};
    wire [17:0] b = {B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0};
    wire [3:0] ce = {CE3, CE2, CE1, CE0};
    wire [3:0] rst = {RST3, RST2, RST1, RST0};

    function integer sel(input [8*4-1:0] name);   // "CE2" -> 2, "RST1" -> 1
        sel = name[7:0] - "0";
    endfunction

    initial begin
        if (REG_INPUTA_CLK != "NONE" || REG_INPUTC_CLK != "NONE" || REG_PIPELINE_CLK != "NONE"
            || (REG_INPUTB_CLK != "NONE" && REG_INPUTB_CLK != "CLK0")
            || (REG_OUTPUT_CLK != "NONE" && REG_OUTPUT_CLK != "CLK0")
            || RESETMODE != "SYNC" || MULT_BYPASS != "DISABLED" || HIGHSPEED_CLK != "NONE"
            || CAS_MATCH_REG != "FALSE") begin
            $display("MULT18X18D model: unsupported configuration");
            $fatal(1);
        end
    end

    reg [17:0] b_reg = 18'd0;
    reg [35:0] p_reg = 36'd0;
    wire [17:0] b_in = (REG_INPUTB_CLK == "NONE") ? b : b_reg;
    wire signed [36:0] a_ext = SIGNEDA ? {{19{a[17]}}, a} : {19'd0, a};
    wire signed [36:0] b_ext = SIGNEDB ? {{19{b_in[17]}}, b_in} : {19'd0, b_in};
    wire signed [73:0] full = a_ext * b_ext;
    wire [35:0] product = full[35:0];
    wire [35:0] p = (REG_OUTPUT_CLK == "NONE") ? product : p_reg;

    always @(posedge CLK0) begin
        if (rst[sel(REG_INPUTB_RST)]) b_reg <= 18'd0;
        else if (ce[sel(REG_INPUTB_CE)]) b_reg <= b;
        if (rst[sel(REG_OUTPUT_RST)]) p_reg <= 36'd0;
        else if (ce[sel(REG_OUTPUT_CE)]) p_reg <= product;
    end

    assign {P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18, P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0} = p;
endmodule
