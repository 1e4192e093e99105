//! ISO 11783-10 (ISOXML) TASKDATA: TASKDATA.XML and a type-2 grid binary for ISOBUS terminals.
