//! String commands.

use super::table::{flags::*, CommandDef, KeyPos};
use super::Ctx;
use crate::keyspace::Value;
use bytes::Bytes;

const K1: KeyPos = KeyPos::Range {
    first: 1,
    last: 1,
    step: 1,
};

pub static COMMANDS: &[CommandDef] = &[
    CommandDef::new("get", 2, READONLY | FAST, K1, get).doc(
        "string",
        "1.0.0",
        "Get the value of a key",
        "O(1)",
    ),
    CommandDef::new("set", -3, WRITE | DENYOOM, K1, set).doc(
        "string",
        "1.0.0",
        "Set the string value of a key",
        "O(1)",
    ),
];

fn get(ctx: &mut Ctx, args: &[Bytes]) {
    match ctx.lookup_read(&args[1]) {
        None => ctx.out.null(),
        Some(e) => match e.value.as_bytes() {
            Some(b) => {
                let b = b.into_owned();
                ctx.out.bulk(&b)
            }
            None => ctx.out.error(super::err::WRONGTYPE),
        },
    }
}

fn set(ctx: &mut Ctx, args: &[Bytes]) {
    ctx.set_key(&args[1], Value::string(&args[2]), false);
    ctx.dirty += 1;
    ctx.notify(super::ctx::notify::STRING, "set", &args[1]);
    ctx.out.ok();
}
