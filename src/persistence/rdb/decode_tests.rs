//! Tests of `decode_object`: every type byte, hand-built from the fact sheet.
