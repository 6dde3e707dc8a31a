//! Reading redis.conf and the command line the way redis-server does:
//! the config file (and stdin with `-`), then the `--name value...`
//! options turned into more lines (so they win), each line applied in
//! order, with Redis's `*** FATAL CONFIG FILE ERROR ***` report (line
//! number, the line, the reason) on the first bad one.

use super::directives::{self, Store};
use super::Config;
use crate::protocol::splitargs::split_args;
use crate::server::conn::repr;

/// A fatal configuration error, printed like Redis's loadServerConfig.
#[derive(Debug)]
pub struct FatalConfigError {
    /// 0 when the error is not about one line (checks after the last line).
    pub line_no: usize,
    pub line: String,
    pub reason: String,
    /// A plain one-line error (a config file that cannot be opened).
    pub plain: bool,
}

impl FatalConfigError {
    fn plain(reason: String) -> Self {
        FatalConfigError {
            line_no: 0,
            line: String::new(),
            reason,
            plain: true,
        }
    }
}

impl std::fmt::Display for FatalConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.plain {
            return writeln!(f, "{}", self.reason);
        }
        write!(f, "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\n")?;
        if self.line_no > 0 {
            write!(
                f,
                "Reading the configuration file, at line {}\n>>> '{}'\n",
                self.line_no, self.line
            )?;
        }
        writeln!(f, "{}", self.reason)
    }
}

/// What redis-server's main() makes of its arguments.
#[derive(Debug, Default, PartialEq)]
pub struct CommandLine {
    pub config_file: Option<String>,
    /// `-` as the first or last argument: read config from stdin.
    pub stdin: bool,
    /// The options as config text ("port \"7000\" \nloglevel ...").
    pub options: String,
}

/// Parses the arguments after the program name (not -v/-h, which the
/// binary handles first), exactly as Redis 7.0's main() does.
pub fn parse_command_line(args: &[String]) -> CommandLine {
    let mut cl = CommandLine::default();
    let mut j = 0;
    if let Some(first) = args.first() {
        if !first.starts_with('-') {
            cl.config_file = Some(first.clone());
            j = 1;
        }
    }
    let n = args.len();
    let mut handled_last = true;
    let opts = &mut cl.options;
    while j < n {
        let a = &args[j];
        let next_is_option = j + 1 < n && args[j + 1].starts_with("--");
        if a == "-" && (j == 0 || j == n - 1) {
            cl.stdin = true;
        } else if handled_last && a.starts_with("--") {
            if !opts.is_empty() {
                opts.push('\n');
            }
            opts.push_str(&a[2..]);
            opts.push(' ');
            let argc = split_args(a.as_bytes()).map_or(0, |v| v.len());
            if argc == 1 {
                // Only the name ("--port"): the value follows.
                handled_last = false;
                let name = a.to_ascii_lowercase();
                if name == "--save" && next_is_option {
                    // `--save --port 1`: an empty save.
                    opts.push_str("\"\"");
                    handled_last = true;
                } else if name == "--save" && j == n - 1 {
                    opts.push_str("\"\"");
                } else if name == "--sentinel" && next_is_option {
                    handled_last = true;
                }
            } else {
                // "--port 6380" in one argument.
                handled_last = true;
            }
        } else {
            opts.push_str(&repr(a.as_bytes()));
            opts.push(' ');
            handled_last = true;
        }
        j += 1;
    }
    cl
}

/// Reads a config file (with Redis's glob rules for `include`).
fn read_config_file(path: &str) -> Result<String, FatalConfigError> {
    let cant_open = |p: &str, e: &std::io::Error| {
        FatalConfigError::plain(format!(
            "Fatal error, can't open config file '{}': {}",
            p,
            super::special::strerror(e)
        ))
    };
    if !path.contains(['*', '?', '[']) {
        return std::fs::read(path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .map_err(|e| cant_open(path, &e));
    }
    // A pattern (in its last component): every match, sorted; no match
    // is not an error (an empty conf.d).
    let (dir, pat) = match path.rfind('/') {
        Some(i) => (&path[..i.max(1)], &path[i + 1..]),
        None => (".", path),
    };
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.') || pat.starts_with('.'))
                .filter(|n| crate::util::glob::glob_match(pat.as_bytes(), n.as_bytes(), false))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let mut text = String::new();
    for n in names {
        let p = if path.contains('/') {
            format!("{}/{}", dir.trim_end_matches('/'), n)
        } else {
            n
        };
        let t = std::fs::read(&p).map_err(|e| cant_open(&p, &e))?;
        text.push_str(&String::from_utf8_lossy(&t));
    }
    Ok(text)
}

/// Loads `file` (if any), then stdin text, then the options, like
/// Redis's loadServerConfig. Returns the start-up warnings.
pub fn load_server_config(
    cfg: &mut Config,
    file: Option<&str>,
    stdin_text: Option<&str>,
    options: &str,
) -> Result<Vec<String>, FatalConfigError> {
    let mut text = match file {
        Some(f) => read_config_file(f)?,
        None => String::new(),
    };
    if let Some(s) = stdin_text {
        text.push_str(s);
    }
    text.push('\n');
    text.push_str(options);
    load_text(cfg, &text)
}

/// Applies config text to `cfg` (Redis's loadServerConfigFromString).
/// Returns warnings: one per known directive keel ignores.
pub fn load_text(cfg: &mut Config, text: &str) -> Result<Vec<String>, FatalConfigError> {
    let mut warnings = Vec::new();
    let mut ignored: Vec<&'static str> = Vec::new();
    apply_text(cfg, text, &mut ignored)?;
    let fatal = |reason: String| FatalConfigError {
        line_no: 0,
        line: String::new(),
        reason,
        plain: false,
    };
    if !cfg.logfile.is_empty() {
        if let Err(e) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&cfg.logfile)
        {
            return Err(fatal(format!(
                "Can't open the log file: {}",
                super::special::strerror(&e)
            )));
        }
    }
    if cfg.cluster_enabled && cfg.replicaof.is_some() {
        return Err(fatal(
            "replicaof directive not allowed in cluster mode".into(),
        ));
    }
    for name in ignored {
        warnings.push(format!(
            "Directive '{name}' is accepted for compatibility but ignored: keel does not implement it yet"
        ));
    }
    if cfg.maxmemory > 0 && cfg.maxmemory < 1024 * 1024 {
        warnings.push(format!(
            "WARNING: You specified a maxmemory value that is less than 1MB (current value is {} bytes). Are you sure this is what you really want?",
            cfg.maxmemory
        ));
    }
    if cfg.cluster_enabled {
        warnings.push(
            "cluster-enabled yes is stored but ignored: keel does not run in cluster mode yet"
                .into(),
        );
    }
    Ok(warnings)
}

fn apply_text(
    cfg: &mut Config,
    text: &str,
    ignored: &mut Vec<&'static str>,
) -> Result<(), FatalConfigError> {
    for (i, raw) in text.split('\n').enumerate() {
        let line = raw.trim_matches(|c: char| c == ' ' || c == '\t' || c == '\r' || c == '\n');
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fatal = |reason: &str| FatalConfigError {
            line_no: i + 1,
            line: line.to_string(),
            reason: reason.to_string(),
            plain: false,
        };
        let Some(args) = split_args(line.as_bytes()) else {
            return Err(fatal("Unbalanced quotes in configuration line"));
        };
        if args.is_empty() {
            continue;
        }
        let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
        let vals: Vec<String> = args[1..]
            .iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if let Some(d) = directives::find(&name) {
            let before = (d.name == "save").then(|| cfg.save.clone());
            directives::apply_line(d, cfg, &vals).map_err(|e| fatal(&e))?;
            if let Some(mut before) = before {
                // The first `save` line of a file replaces the defaults;
                // later ones add points (`save ""` clears them all).
                let reset = vals.len() == 1 && vals[0].is_empty();
                if cfg.save_file_seen && !reset {
                    before.append(&mut cfg.save);
                    cfg.save = before;
                }
                cfg.save_file_seen = true;
            }
            let special = matches!(d.kind, directives::Kind::Special(_));
            let stored_only =
                matches!(d.store, Store::Other) && (!special || d.name == "oom-score-adj-values");
            if stored_only && !ignored.contains(&d.name) {
                ignored.push(d.name);
            }
            continue;
        }
        let argc = args.len();
        match name.as_str() {
            // Removed in 7.0 but still accepted (and ignored) by Redis.
            "list-max-ziplist-entries" | "list-max-ziplist-value" | "lua-replicate-commands"
                if argc == 2 => {}
            "include" if argc == 2 => {
                let t = read_config_file(&vals[0])?;
                apply_text(cfg, &t, ignored)?;
            }
            "rename-command" if argc == 3 => {
                let mut table =
                    crate::commands::CommandTable::new(&crate::commands::all_families());
                for (from, to) in &cfg.renamed_commands {
                    table.rename(from, to);
                }
                if table.get(vals[0].as_bytes()).is_none() {
                    return Err(fatal("No such command in rename-command"));
                }
                if !table.rename(&vals[0], &vals[1]) {
                    return Err(fatal("Target command name already exists"));
                }
                cfg.renamed_commands
                    .push((vals[0].clone(), vals[1].clone()));
            }
            // What Redis's CONFIG REWRITE writes for an untouched default
            // user: it grants nothing beyond keel's single default user.
            "user" if argc >= 2 && is_plain_default_user(&vals) => {}
            "user" if argc >= 2 => {
                return Err(fatal(
                    "user directives are not supported by keel yet (no ACL users besides default)",
                ));
            }
            "loadmodule" if argc >= 2 => {
                return Err(fatal("loadmodule is not supported: keel has no module API"));
            }
            "sentinel" => {
                return Err(fatal(if argc != 1 {
                    "sentinel directive while not in sentinel mode"
                } else {
                    "keel does not support sentinel mode"
                }));
            }
            n if n.contains('.') => {
                return Err(fatal(if argc < 2 {
                    "Module config specified without value"
                } else {
                    "Module Configuration detected without loadmodule directive or no ApplyConfig call: aborting"
                }));
            }
            _ => return Err(fatal("Bad directive or wrong number of arguments")),
        }
    }
    Ok(())
}

/// A `user default ...` line whose rules leave the default user as keel
/// has it (enabled, no password, every key, channel and command).
fn is_plain_default_user(vals: &[String]) -> bool {
    const SAME_AS_DEFAULT: &[&str] = &[
        "on",
        "nopass",
        "~*",
        "&*",
        "+@all",
        "allkeys",
        "allchannels",
        "allcommands",
        "sanitize-payload",
        "skip-sanitize-payload",
    ];
    vals[0] == "default"
        && vals[1..]
            .iter()
            .all(|r| SAME_AS_DEFAULT.contains(&r.to_ascii_lowercase().as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sv(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    fn load(text: &str) -> Result<Config, FatalConfigError> {
        let mut c = Config::default();
        load_text(&mut c, text).map(|_| c)
    }

    #[test]
    fn command_line_like_redis() {
        let cl = parse_command_line(&sv(&["--port", "7000", "--bind", "a", "b"]));
        assert_eq!(cl.options, "port \"7000\" \nbind \"a\" \"b\" ");
        assert_eq!(cl.config_file, None);
        let cl = parse_command_line(&sv(&["/etc/r.conf", "--maxmemory 700mb", "-"]));
        assert_eq!(cl.config_file.as_deref(), Some("/etc/r.conf"));
        assert!(cl.stdin);
        assert_eq!(cl.options, "maxmemory 700mb ");
        let cl = parse_command_line(&sv(&["--save", "--loglevel", "verbose"]));
        assert_eq!(cl.options, "save \"\"\nloglevel \"verbose\" ");
        let cl = parse_command_line(&sv(&["--port", "--loglevel", "verbose"]));
        assert_eq!(cl.options, "port \"--loglevel\" \"verbose\" ");
        let cl = parse_command_line(&sv(&["--loglevel", "verbose", "--save"]));
        assert_eq!(cl.options, "loglevel \"verbose\" \nsave \"\"");
    }

    fn err_of(args: &[&str]) -> String {
        let cl = parse_command_line(&sv(args));
        let mut c = Config::default();
        load_server_config(&mut c, None, None, &cl.options)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn command_line_errors_match_introspection_tests() {
        let e = err_of(&["--port"]);
        assert!(e.contains(">>> 'port'\nwrong number of arguments"), "{e}");
        assert!(e.contains("at line 2"), "{e}");
        let e = err_of(&["--port", "6379", "6380"]);
        assert!(
            e.contains("'port \"6379\" \"6380\"'\nwrong number of arguments"),
            "{e}"
        );
        let e = err_of(&["--port", "--bla", "--loglevel", "verbose"]);
        assert!(e.contains("'port \"--bla\"'\nargument couldn't be parsed into an integer"));
        let e = err_of(&["--logfile", "--my--log--file", "--loglevel", "--bla"]);
        assert!(e.contains("'loglevel \"--bla\"'\nargument(s) must be one of the following"));
        let e = err_of(&["--shutdown-on-sigint"]);
        assert!(e.contains("'shutdown-on-sigint'\nargument(s) must be one of the following"));
        let e = err_of(&["--replicaof", "127.0.0.1", "abc"]);
        assert!(e.contains("'replicaof \"127.0.0.1\" \"abc\"'\nInvalid master port"));
        let e = err_of(&["--replicaof", "--127.0.0.1", "--abc"]);
        assert!(e.contains("'replicaof \"--127.0.0.1\"'\nwrong number of arguments"));
        let _ = std::fs::remove_file("--my--log--file");
    }

    #[test]
    fn file_errors_and_aliases() {
        let e = load("port 7000\nnosuch 1\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line 2\n>>> 'nosuch 1'\nBad directive or wrong number of arguments\n"
        );
        assert_eq!(
            load("maxmemory 1x").unwrap_err().reason,
            "argument must be a memory value"
        );
        assert_eq!(
            load("daemonize maybe").unwrap_err().reason,
            "argument must be 'yes' or 'no'"
        );
        assert_eq!(
            load("timeout 1 2").unwrap_err().reason,
            "wrong number of arguments"
        );
        assert_eq!(
            load("bind \"a").unwrap_err().reason,
            "Unbalanced quotes in configuration line"
        );
        let c =
            load("slaveof 10.0.0.1 6380\nhash-max-ziplist-value 1kb\nlist-max-ziplist-entries 5\n")
                .unwrap();
        assert_eq!(c.replicaof, Some(("10.0.0.1".into(), 6380)));
        assert_eq!(c.hash_max_listpack_value, 1024);
        let c = load("rename-command ping pong\nrename-command echo \"\"").unwrap();
        assert_eq!(c.renamed_commands.len(), 2);
        assert_eq!(
            load("rename-command nosuch x").unwrap_err().reason,
            "No such command in rename-command"
        );
        assert_eq!(
            load("rename-command ping echo").unwrap_err().reason,
            "Target command name already exists"
        );
        assert!(load("user default on nopass sanitize-payload ~* &* +@all").is_ok());
        assert!(load("user default on >secret ~* &* +@all").is_err());
        assert!(load("user bob on nopass ~* &* +@all").is_err());
        assert!(load("cluster-enabled yes\nreplicaof a 1").is_err());
    }

    #[test]
    fn durability_settings() {
        assert!(load("port 1\nappendonly yes\n").unwrap().appendonly);
        let c = load("save \"\"\nappendonly no\n").unwrap();
        assert!(c.save.is_empty());
        let c = load("save 900 1\nsave 300 10\n").unwrap();
        assert_eq!(c.save, vec![(900, 1), (300, 10)]);
        let c = load("port 1\n").unwrap();
        assert_eq!(c.save, crate::config::REDIS_DEFAULT_SAVE.to_vec());
    }

    #[test]
    fn warnings_for_ignored_directives_once_each() {
        let mut c = Config::default();
        let w = load_text(
            &mut c,
            "save \"\"\nactiverehashing no\nactiverehashing yes\nport 1\n",
        )
        .unwrap();
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("'activerehashing'") && w[0].contains("ignored"));
        assert_eq!(c.get_text("activerehashing").as_deref(), Some("yes"));
    }

    #[test]
    fn include_files() {
        let dir = tempfile::tempdir().unwrap();
        let inc = dir.path().join("inc.conf");
        std::fs::write(&inc, "maxmemory 3mb\n").unwrap();
        let c = load(&format!("include {}\nhz 20\n", inc.display())).unwrap();
        assert_eq!(c.maxmemory, 3 << 20);
        assert_eq!(c.hz, 20);
        let c = load(&format!("include {}/*.conf\n", dir.path().display())).unwrap();
        assert_eq!(c.maxmemory, 3 << 20);
        let e = load("include /nonexistent/x.conf").unwrap_err();
        assert!(e
            .to_string()
            .starts_with("Fatal error, can't open config file"));
    }
}
