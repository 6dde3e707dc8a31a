//! Hash slots: CRC16/XMODEM of the key (or of its `{hash tag}`) mod 16384,
//! as Redis Cluster defines them.

pub const SLOTS: usize = 16384;

/// The part of the key that is hashed: the first `{...}` with a non-empty
/// body, else the whole key.
pub fn hash_tag(key: &[u8]) -> &[u8] {
    if let Some(open) = key.iter().position(|&c| c == b'{') {
        if let Some(close) = key[open + 1..].iter().position(|&c| c == b'}') {
            if close > 0 {
                return &key[open + 1..open + 1 + close];
            }
        }
    }
    key
}

pub fn key_slot(key: &[u8]) -> usize {
    (crc16::State::<crc16::XMODEM>::calculate(hash_tag(key)) as usize) & (SLOTS - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_slots() {
        // Values from Redis's CLUSTER KEYSLOT.
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"bar"), 5061);
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_eq!(key_slot(b"foo{}{bar}"), key_slot(b"foo{}{bar}"));
        assert_eq!(hash_tag(b"foo{}{bar}"), b"foo{}{bar}");
        assert_eq!(hash_tag(b"foo{{bar}}zap"), b"{bar");
        assert_eq!(key_slot(b""), 0);
    }
}
