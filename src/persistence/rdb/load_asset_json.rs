//! A minimal JSON reader for the datasets saved next to the newer RDB
//! files (test-only; keel has no JSON dependency).

/// A minimal JSON reader for the datasets next to the newer files.
#[derive(Debug, Clone)]
pub enum J {
    Null,
    Bool,
    Num(String),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

impl J {
    pub fn get(&self, k: &str) -> Option<&J> {
        match self {
            J::Obj(v) => v.iter().find(|e| e.0 == k).map(|e| &e.1),
            _ => None,
        }
    }
    pub fn str(&self) -> &str {
        match self {
            J::Str(s) | J::Num(s) => s,
            _ => panic!("not a string: {self:?}"),
        }
    }
    pub fn arr(&self) -> &[J] {
        match self {
            J::Arr(v) => v,
            _ => panic!("not an array: {self:?}"),
        }
    }
}

pub fn parse_json(s: &str) -> J {
    fn ws(b: &[char], i: &mut usize) {
        while *i < b.len() && b[*i].is_whitespace() {
            *i += 1;
        }
    }
    fn val(b: &[char], i: &mut usize) -> J {
        ws(b, i);
        match b[*i] {
            '{' => {
                *i += 1;
                let mut o = vec![];
                loop {
                    ws(b, i);
                    if b[*i] == '}' {
                        *i += 1;
                        return J::Obj(o);
                    }
                    let J::Str(k) = val(b, i) else { panic!("key") };
                    ws(b, i);
                    *i += 1; // ':'
                    o.push((k, val(b, i)));
                    ws(b, i);
                    if b[*i] == ',' {
                        *i += 1;
                    }
                }
            }
            '[' => {
                *i += 1;
                let mut a = vec![];
                loop {
                    ws(b, i);
                    if b[*i] == ']' {
                        *i += 1;
                        return J::Arr(a);
                    }
                    a.push(val(b, i));
                    ws(b, i);
                    if b[*i] == ',' {
                        *i += 1;
                    }
                }
            }
            '"' => {
                *i += 1;
                let mut out = String::new();
                while b[*i] != '"' {
                    if b[*i] == '\\' {
                        *i += 1;
                        match b[*i] {
                            'n' => out.push('\n'),
                            't' => out.push('\t'),
                            'r' => out.push('\r'),
                            'b' => out.push('\u{8}'),
                            'f' => out.push('\u{c}'),
                            'u' => {
                                let h: String = b[*i + 1..*i + 5].iter().collect();
                                out.push(
                                    char::from_u32(u32::from_str_radix(&h, 16).unwrap())
                                        .unwrap_or('?'),
                                );
                                *i += 4;
                            }
                            c => out.push(c),
                        }
                    } else {
                        out.push(b[*i]);
                    }
                    *i += 1;
                }
                *i += 1;
                J::Str(out)
            }
            't' => {
                *i += 4;
                J::Bool
            }
            'f' => {
                *i += 5;
                J::Bool
            }
            'n' => {
                *i += 4;
                J::Null
            }
            _ => {
                let st = *i;
                while *i < b.len() && (b[*i].is_ascii_digit() || "+-.eE".contains(b[*i])) {
                    *i += 1;
                }
                J::Num(b[st..*i].iter().collect())
            }
        }
    }
    let chars: Vec<char> = s.chars().collect();
    val(&chars, &mut 0)
}
