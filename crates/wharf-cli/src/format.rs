//! `--format`, as Docker's: a Go template (`{{.Names}}`, `{{json .}}`, `table {{.ID}}\t...`),
//! `json` (a JSON object a line), or the listing's default table. Templates run on the `gtmpl`
//! crate (Go's text/template in Rust) with Docker's extra functions, except a row template that
//! only prints fields, which is filled in directly (`RowTemplate`); tables are aligned as
//! Docker's tabwriter aligns them (cells padded by 3, at least 10 wide).

use std::collections::{BTreeMap, HashMap};

use gtmpl::{Context, Template, Value};
use gtmpl_value::{FuncError, Number};

/// One column a listing can show: the field a template names, and its table header.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// `{{.Field}}`.
    pub field: &'static str,
    /// The header a `table` shows for it.
    pub header: &'static str,
}

/// A listing's fields and the table it prints when no format is given.
#[derive(Debug)]
pub struct Listing {
    /// Every field a row has.
    pub columns: &'static [Column],
    /// Docker's default for this listing (`table {{.ID}}\t{{.Image}}...`).
    pub default: &'static str,
}

/// A row of a listing: field to text.
pub type Row = BTreeMap<&'static str, String>;

/// Prints `rows` as `format` asks (`None`, `""` and `table` mean the listing's default).
pub fn print_rows(listing: &Listing, format: Option<&str>, rows: &[Row]) -> Result<(), String> {
    let format = match format.map(str::trim) {
        None | Some("") | Some("table") => listing.default,
        Some(format) => format,
    };
    let mut out = String::new();
    if format == "json" {
        for row in rows {
            out += &serde_json::to_string(row).expect("a row serializes");
            out.push('\n');
        }
    } else if let Some(body) = format.strip_prefix("table") {
        let template = RowTemplate::compile(listing, body.trim_start())?;
        let headers: Row = listing
            .columns
            .iter()
            .map(|c| (c.field, c.header.to_string()))
            .collect();
        let mut lines = vec![template.render(&headers)?];
        for row in rows {
            lines.push(template.render(row)?);
        }
        out = align(&lines);
    } else {
        let template = RowTemplate::compile(listing, format)?;
        for row in rows {
            out += &template.render(row)?;
            out.push('\n');
        }
    }
    print!("{out}");
    Ok(())
}

/// A row template. One that only prints fields, as every default table does
/// (`{{.ID}}\t{{.Names}}`), is filled in directly: gtmpl's evaluation was a fifth of `ps`
/// with 1,000 containers. Any other runs on gtmpl.
enum RowTemplate {
    Fields(Vec<Piece>),
    Go(Template),
}

/// Text between a template's actions, or a field it prints.
enum Piece {
    Text(String),
    Field(&'static str),
}

impl RowTemplate {
    fn compile(listing: &Listing, text: &str) -> Result<RowTemplate, String> {
        match fields_only(listing, text) {
            Some(pieces) => Ok(RowTemplate::Fields(pieces)),
            None => Ok(RowTemplate::Go(compile(text)?)),
        }
    }

    fn render(&self, row: &Row) -> Result<String, String> {
        let pieces = match self {
            RowTemplate::Go(template) => return render(template, row_value(row)),
            RowTemplate::Fields(pieces) => pieces,
        };
        let mut out = String::new();
        for piece in pieces {
            match piece {
                Piece::Text(text) => out += text,
                // Go prints a missing map key as `<no value>`.
                Piece::Field(field) => out += row.get(field).map_or("<no value>", |v| v),
            }
        }
        Ok(out)
    }
}

/// `text` as text and `{{.Field}}` actions naming `listing`'s fields, or `None` when it has
/// any other action (a function, a pipeline, whitespace trimming, an unknown field).
fn fields_only(listing: &Listing, text: &str) -> Option<Vec<Piece>> {
    let text = unescape(text);
    let mut pieces = Vec::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("{{") {
        let len = rest[start..].find("}}")?;
        let name = rest[start + 2..start + len].trim().strip_prefix('.')?;
        let column = listing.columns.iter().find(|c| c.field == name)?;
        if start > 0 {
            pieces.push(Piece::Text(rest[..start].to_string()));
        }
        pieces.push(Piece::Field(column.field));
        rest = &rest[start + len + 2..];
    }
    if rest.contains("}}") {
        return None;
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest.to_string()));
    }
    Some(pieces)
}

/// `inspect [-f FORMAT]`: the objects as a JSON array, or `format` applied to each, a line
/// each (`json`: each object's JSON).
pub fn print_objects(format: Option<&str>, objects: &[serde_json::Value]) -> Result<(), String> {
    let template = match format.map(str::trim) {
        None | Some("") => {
            let json = serde_json::to_string_pretty(objects).expect("JSON values serialize");
            println!("{json}");
            return Ok(());
        }
        Some("json") => compile("{{json .}}")?,
        Some(template) => compile(template)?,
    };
    let mut out = String::new();
    for object in objects {
        out += &render(&template, from_json(object))?;
        out.push('\n');
    }
    print!("{out}");
    Ok(())
}

/// Parses a Go template with Docker's functions; every printed value is printed as Go's `%v`.
fn compile(text: &str) -> Result<Template, String> {
    let mut template = Template::default();
    template.add_funcs(&[
        ("json", json as gtmpl::Func),
        ("join", join),
        ("lower", lower),
        ("upper", upper),
        ("title", title),
        ("split", split),
        ("truncate", truncate),
        ("pad", pad),
        (GO_PRINT, go_print),
    ]);
    template
        .parse(printing_as_go(&unescape(text)))
        .map_err(|e| format!("template parsing error: {e}"))?;
    Ok(template)
}

/// Docker's templates take `\t` and `\n` written out, as its shell users type them.
fn unescape(text: &str) -> String {
    text.replace("\\t", "\t").replace("\\n", "\n")
}

fn render(template: &Template, value: Value) -> Result<String, String> {
    template
        .render(&Context::from(value))
        .map_err(|e| format!("template: {e}"))
}

/// Tab-separated `lines` as aligned columns (the last cell of a line is not padded).
fn align(lines: &[String]) -> String {
    let cells: Vec<Vec<&str>> = lines.iter().map(|l| l.split('\t').collect()).collect();
    let mut widths: Vec<usize> = Vec::new();
    for line in &cells {
        for (i, cell) in line.iter().enumerate().take(line.len().saturating_sub(1)) {
            let width = (cell.chars().count() + 3).max(10);
            match widths.get_mut(i) {
                Some(w) => *w = (*w).max(width),
                None => widths.push(width),
            }
        }
    }
    let mut out = String::new();
    for line in &cells {
        for (i, cell) in line.iter().enumerate() {
            if i + 1 < line.len() {
                out += &format!("{cell:<width$}", width = widths[i]);
            } else {
                out += cell;
            }
        }
        out.push('\n');
    }
    out
}

/// The name of the function each printing action is piped through.
const GO_PRINT: &str = "__wharf_go_print";

/// Pipes every action that prints (`{{.X}}`, `{{index .Y 0}}`) through [`go_print`], since
/// gtmpl prints lists and maps in Rust's debug form where Go prints `[a b]` and `map[k:v]`.
/// Control actions, comments and assignments are left alone.
fn printing_as_go(text: &str) -> String {
    const CONTROL: &[&str] = &[
        "if", "else", "end", "range", "with", "define", "template", "block", "break", "continue",
    ];
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start..].find("}}") else {
            break;
        };
        let action = &rest[start + 2..start + len];
        out += &rest[..start + 2];
        let trim_right = action.ends_with(" -") || action == "-";
        let body = action.strip_suffix(" -").unwrap_or(action);
        let inner = body.trim_start_matches('-').trim();
        let first = inner.split_whitespace().next().unwrap_or("");
        let prints = !inner.is_empty()
            && !inner.starts_with("/*")
            && !CONTROL.contains(&first)
            && !inner.contains(":=")
            && inner.split_whitespace().nth(1).is_none_or(|w| w != "=");
        out += body;
        if prints {
            out += &format!(" | {GO_PRINT}");
        }
        if trim_right {
            out += " -";
        }
        out += "}}";
        rest = &rest[start + len + 2..];
    }
    out + rest
}

/// Go's `%v` of a value.
fn go_text(value: &Value) -> String {
    match value {
        Value::NoValue => "<no value>".into(),
        Value::Nil => "<nil>".into(),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(go_text).collect();
            format!("[{}]", items.join(" "))
        }
        Value::Map(map) | Value::Object(map) => {
            let sorted: BTreeMap<&String, &Value> = map.iter().collect();
            let items: Vec<String> = sorted
                .into_iter()
                .map(|(k, v)| format!("{k}:{}", go_text(v)))
                .collect();
            format!("map[{}]", items.join(" "))
        }
        other => other.to_string(),
    }
}

fn row_value(row: &Row) -> Value {
    Value::Map(
        row.iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.clone())))
            .collect(),
    )
}

/// A JSON document as a template's value.
fn from_json(value: &serde_json::Value) -> Value {
    match value {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => Value::Number(Number::from(u)),
            (_, Some(i), _) => Value::Number(Number::from(i)),
            (_, _, f) => Value::Number(Number::from(f.unwrap_or(0.0))),
        },
        serde_json::Value::String(s) => Value::String(s.clone()),
        serde_json::Value::Array(items) => Value::Array(items.iter().map(from_json).collect()),
        serde_json::Value::Object(map) => Value::Map(
            map.iter()
                .map(|(k, v)| (k.clone(), from_json(v)))
                .collect::<HashMap<_, _>>(),
        ),
    }
}

/// A template's value as JSON, for `{{json .}}`.
fn to_json(value: &Value) -> serde_json::Value {
    match value {
        Value::NoValue | Value::Nil | Value::Function(_) => serde_json::Value::Null,
        Value::Bool(b) => (*b).into(),
        Value::String(s) => s.clone().into(),
        Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => u.into(),
            (_, Some(i), _) => i.into(),
            (_, _, f) => f.unwrap_or(0.0).into(),
        },
        Value::Array(items) => items.iter().map(to_json).collect(),
        Value::Map(map) | Value::Object(map) => {
            serde_json::Value::Object(map.iter().map(|(k, v)| (k.clone(), to_json(v))).collect())
        }
    }
}

fn one<'a>(args: &'a [Value], name: &str) -> Result<&'a Value, FuncError> {
    args.first()
        .ok_or_else(|| FuncError::Generic(format!("{name} needs an argument")))
}

fn text_arg(args: &[Value], i: usize) -> String {
    match args.get(i) {
        Some(Value::String(s)) => s.clone(),
        Some(v) => go_text(v),
        None => String::new(),
    }
}

fn number_arg(args: &[Value], i: usize, name: &str) -> Result<usize, FuncError> {
    match args.get(i) {
        Some(Value::Number(n)) => n
            .as_u64()
            .map(|n| n as usize)
            .ok_or_else(|| FuncError::Generic(format!("{name}: not a count"))),
        _ => Err(FuncError::Generic(format!("{name} needs a count"))),
    }
}

fn go_print(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::String(go_text(one(args, "print")?)))
}

fn json(args: &[Value]) -> Result<Value, FuncError> {
    let value = to_json(one(args, "json")?);
    Ok(Value::String(serde_json::to_string(&value).expect("JSON")))
}

/// `join LIST SEP`.
fn join(args: &[Value]) -> Result<Value, FuncError> {
    let sep = text_arg(args, 1);
    match one(args, "join")? {
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(go_text).collect();
            Ok(Value::String(items.join(&sep)))
        }
        other => Ok(Value::String(go_text(other))),
    }
}

fn lower(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::String(text_arg(args, 0).to_lowercase()))
}

fn upper(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::String(text_arg(args, 0).to_uppercase()))
}

fn title(args: &[Value]) -> Result<Value, FuncError> {
    let text = text_arg(args, 0);
    let mut chars = text.chars();
    let titled = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    };
    Ok(Value::String(titled))
}

/// `split TEXT SEP`.
fn split(args: &[Value]) -> Result<Value, FuncError> {
    let (text, sep) = (text_arg(args, 0), text_arg(args, 1));
    let parts = text.split(sep.as_str()).map(|p| Value::String(p.into()));
    Ok(Value::Array(parts.collect()))
}

/// `truncate TEXT N`.
fn truncate(args: &[Value]) -> Result<Value, FuncError> {
    let n = number_arg(args, 1, "truncate")?;
    Ok(Value::String(text_arg(args, 0).chars().take(n).collect()))
}

/// `pad TEXT LEFT RIGHT`: spaces around.
fn pad(args: &[Value]) -> Result<Value, FuncError> {
    let (left, right) = (number_arg(args, 1, "pad")?, number_arg(args, 2, "pad")?);
    let text = text_arg(args, 0);
    Ok(Value::String(format!(
        "{}{text}{}",
        " ".repeat(left),
        " ".repeat(right)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(template: &str, json: serde_json::Value) -> String {
        render(&compile(template).unwrap(), from_json(&json)).unwrap()
    }

    #[test]
    fn templates_print_as_go_does() {
        let doc = serde_json::json!({
            "State": {"Status": "running", "Pid": 42},
            "Config": {"Env": ["A=B", "C=D"], "Labels": {"b": "2", "a": "1"}},
        });
        assert_eq!(
            run("{{.State.Status}} {{.State.Pid}}", doc.clone()),
            "running 42"
        );
        assert_eq!(run("{{.Config.Env}}", doc.clone()), "[A=B C=D]");
        assert_eq!(run("{{.Config.Labels}}", doc.clone()), "map[a:1 b:2]");
        assert_eq!(run("{{json .Config.Env}}", doc.clone()), r#"["A=B","C=D"]"#);
        assert_eq!(run("{{join .Config.Env \",\"}}", doc.clone()), "A=B,C=D");
        assert_eq!(
            run("{{range .Config.Env}}{{.}};{{end}}", doc.clone()),
            "A=B;C=D;"
        );
        assert_eq!(
            run(
                "{{if eq .State.Status \"running\"}}up{{else}}down{{end}}",
                doc.clone()
            ),
            "up"
        );
        assert_eq!(run("{{$s := .State}}{{$s.Pid}}", doc.clone()), "42");
        assert_eq!(
            run("{{- .State.Status}}\\t| {{- .State.Pid -}} !", doc.clone()),
            "running\t|42!"
        );
        assert_eq!(run("{{.Missing}}", doc.clone()), "<no value>");
        assert_eq!(run("{{upper (truncate .State.Status 3)}}", doc), "RUN");
        assert!(compile("{{.State").is_err());
    }

    #[test]
    fn field_only_templates_print_what_gtmpl_prints() {
        const COLUMNS: &[Column] = &[
            Column {
                field: "ID",
                header: "CONTAINER ID",
            },
            Column {
                field: "Names",
                header: "NAMES",
            },
        ];
        let listing = Listing {
            columns: COLUMNS,
            default: "table {{.ID}}\t{{.Names}}",
        };
        let row = Row::from([
            ("ID", "abc".to_string()),
            ("Names", "web [1] {x}".to_string()),
        ]);
        for text in [
            "{{.ID}}\\t{{.Names}}",
            "id={{ .ID }}!",
            "{{.Names}}",
            "plain",
            "",
        ] {
            let direct = RowTemplate::compile(&listing, text).unwrap();
            assert!(matches!(direct, RowTemplate::Fields(_)), "{text}");
            let go = RowTemplate::Go(compile(text).unwrap());
            assert_eq!(direct.render(&row), go.render(&row), "{text}");
        }
        // Anything else is gtmpl's: functions, trimming, unknown fields, the whole row.
        for text in [
            "{{lower .ID}}",
            "{{- .ID}}",
            "{{.Image}}",
            "{{json .}}",
            "{{.ID",
        ] {
            assert!(
                !matches!(
                    RowTemplate::compile(&listing, text),
                    Ok(RowTemplate::Fields(_))
                ),
                "{text}"
            );
        }
        let upper = RowTemplate::compile(&listing, "{{upper .Names}}").unwrap();
        assert_eq!(upper.render(&row).unwrap(), "WEB [1] {X}");
    }

    #[test]
    fn tables_align_as_docker_s_tabwriter() {
        let lines = ["CONTAINER ID\tNAMES".to_string(), "abc\tweb".to_string()];
        assert_eq!(align(&lines), "CONTAINER ID   NAMES\nabc            web\n");
        let short = ["A\tB".to_string(), "x\ty".to_string()];
        assert_eq!(align(&short), "A         B\nx         y\n");
    }
}
