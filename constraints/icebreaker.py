# nextpnr-ice40 pre-pack script of the iCEBreaker build (systole fpga --board icebreaker),
# appended to the one Amaranth generates. The 12 MHz oscillator constraint comes from the board
# definition (amaranth-boards); the design runs on that clock directly (no PLL).
