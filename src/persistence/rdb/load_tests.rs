//! Tests of the whole-file loader.
