//! The record loop of an RDB file (after the header, up to the EOF
//! opcode), one record at a time: the opcodes that prefix a key (expire,
//! LRU, LFU), the control opcodes (database, sizes, AUX fields, module
//! data, functions), and key records decoded here and handed to the sink.
//!
//! The opcode handlers are shared with the parallel loop
//! ([`super::parallel`]), which falls back to [`load_records`] from the
//! record where anything unusual happens, so every error is found and
//! worded by this code.

use super::decode::{decode_object, module_name};
use super::load::{KeyMeta, LoadOptions, LoadSink, Step};
use super::read::Reader;
use super::{opcode, Limits, RdbError};

/// Keys handed to the sink and empty keys skipped so far.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Counts {
    pub keys: u64,
    pub empty: u64,
}

/// Handles `t` if it is one of the opcodes that prefix a key (updating
/// `meta`); false for anything else.
pub(super) fn meta_opcode(
    t: u8,
    r: &mut Reader,
    st: &mut Step,
    meta: &mut KeyMeta,
) -> Result<bool, RdbError> {
    match t {
        opcode::EXPIRETIME => {
            st.doing = "read-expire";
            meta.expire_ms = r.time_secs().map_err(|e| st.wrap(e))? * 1000;
        }
        opcode::EXPIRETIME_MS => {
            st.doing = "read-expire";
            meta.expire_ms = r.time_ms().map_err(|e| st.wrap(e))?;
        }
        opcode::FREQ => {
            st.doing = "read-type";
            meta.freq = Some(r.u8().map_err(|e| st.wrap(e))?);
        }
        opcode::IDLE => {
            st.doing = "read-len";
            meta.idle_secs = Some(r.length().map_err(|e| st.wrap(e))?);
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// Whether `t` is a control opcode ([`control_opcode`] handles it).
pub(super) fn is_control(t: u8) -> bool {
    matches!(
        t,
        opcode::SELECTDB
            | opcode::RESIZEDB
            | opcode::SLOT_INFO
            | opcode::AUX
            | opcode::MODULE_AUX
            | opcode::FUNCTION_PRE_GA
            | opcode::FUNCTION2
    )
}

/// Handles a control opcode (see [`is_control`]).
pub(super) fn control_opcode(
    t: u8,
    r: &mut Reader,
    st: &mut Step,
    sink: &mut dyn LoadSink,
) -> Result<(), RdbError> {
    match t {
        opcode::SELECTDB => {
            st.doing = "read-len";
            let db = r.length().map_err(|e| st.wrap(e))?;
            sink.select_db(db).map_err(|m| st.wrap(r.err(m)))?;
        }
        opcode::RESIZEDB => {
            st.doing = "read-len";
            let k = r.length().map_err(|e| st.wrap(e))?;
            let e = r.length().map_err(|e| st.wrap(e))?;
            sink.resize_db(k, e);
        }
        opcode::SLOT_INFO => {
            // Cluster sizing hints (Redis 7.4): slot, keys, expires.
            st.doing = "read-len";
            for _ in 0..3 {
                r.length().map_err(|e| st.wrap(e))?;
            }
        }
        opcode::AUX => {
            st.doing = "read-aux";
            let k = r.string().map_err(|e| st.wrap(e))?;
            let v = r.string().map_err(|e| st.wrap(e))?;
            sink.aux(&k, &v).map_err(|m| st.wrap(r.err(m)))?;
        }
        opcode::MODULE_AUX => {
            st.doing = "read-module-aux";
            let id = r.length().map_err(|e| st.wrap(e))?;
            let when_opcode = r.length().map_err(|e| st.wrap(e))?;
            r.length().map_err(|e| st.wrap(e))?;
            if when_opcode != 2 {
                return Err(st.wrap(r.err("bad when_opcode")));
            }
            return Err(st.wrap(r.err(format!(
                "The RDB file contains AUX module data I can't load: no matching module '{}'",
                module_name(id)
            ))));
        }
        opcode::FUNCTION_PRE_GA => {
            st.doing = "read-functions";
            let name = r.string().map_err(|e| st.wrap(e))?;
            let engine = r.string().map_err(|e| st.wrap(e))?;
            if r.length().map_err(|e| st.wrap(e))? != 0 {
                r.string().map_err(|e| st.wrap(e))?; // the description, dropped
            }
            let blob = r.string().map_err(|e| st.wrap(e))?;
            let code = super::pre_ga_function_code(&engine, &name, &blob);
            sink.function(&code).map_err(|m| st.wrap(r.err(m)))?;
        }
        opcode::FUNCTION2 => {
            st.doing = "read-functions";
            let code = r.string().map_err(|e| st.wrap(e))?;
            sink.function(&code).map_err(|m| st.wrap(r.err(m)))?;
        }
        _ => unreachable!("not a control opcode: {t}"),
    }
    Ok(())
}

/// Resets the error context before a record's first byte.
pub(super) fn at_record(st: &mut Step) {
    st.doing = "read-type";
    st.key = None;
    st.type_byte = None;
}

/// Records from the reader's position up to and including the EOF
/// opcode, decoded on this thread; `counts` carries on from records the
/// caller already handed to the sink.
pub(super) fn load_records(
    r: &mut Reader,
    st: &mut Step,
    opts: &LoadOptions,
    sink: &mut dyn LoadSink,
    mut counts: Counts,
) -> Result<Counts, RdbError> {
    let lim = &opts.limits;
    let mut meta = KeyMeta::default();
    loop {
        at_record(st);
        let t = r.u8().map_err(|e| st.wrap(e))?;
        if meta_opcode(t, r, st, &mut meta)? {
            continue;
        }
        if t == opcode::EOF {
            break;
        }
        if is_control(t) {
            control_opcode(t, r, st, sink)?;
            continue;
        }
        key_record(t, r, st, lim, sink, meta, &mut counts)?;
        meta = KeyMeta::default();
    }
    at_end(st);
    Ok(counts)
}

/// The error context after the EOF opcode.
pub(super) fn at_end(st: &mut Step) {
    st.doing = "check-sum";
    st.key = None;
    st.type_byte = None;
}

/// A key record of type `t` (read just before): the key, the value
/// decoded here, then the sink.
pub(super) fn key_record(
    t: u8,
    r: &mut Reader,
    st: &mut Step,
    lim: &Limits,
    sink: &mut dyn LoadSink,
    meta: KeyMeta,
    counts: &mut Counts,
) -> Result<(), RdbError> {
    st.doing = "read-key";
    st.type_byte = Some(t);
    let key = r.string().map_err(|e| st.wrap(e))?.into_owned();
    st.doing = "read-object-value";
    st.key = Some(key);
    match decode_object(r, t, lim).map_err(|e| st.wrap(e))? {
        None => {
            counts.empty += 1;
            sink.empty_key(st.key.as_deref().unwrap_or_default());
        }
        Some(v) => {
            let key = st.key.take().expect("set above");
            sink.key(&key, v, meta).map_err(|m| {
                st.key = Some(key.clone());
                st.wrap(r.err(m))
            })?;
            counts.keys += 1;
        }
    }
    sink.progress(r.offset(), counts.keys);
    Ok(())
}
