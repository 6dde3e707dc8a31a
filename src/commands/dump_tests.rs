//! RESTORE/DUMP command tests.
use super::*;
