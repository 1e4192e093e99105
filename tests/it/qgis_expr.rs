//! The part of QGIS's expression language paddy's styles use, evaluated as QGIS evaluates it,
//! so a test can tell which rules of a style a feature matches and what its label reads without
//! QGIS installed: field references (`"rate"`), numbers, strings (`'a''b'`), NULL; `OR`, `AND`,
//! `NOT`; `= <> != < <= > >=`, `IS [NOT] NULL`, `[NOT] IN (…)`, `LIKE` (`%` any text, `_` one
//! character); `+ - * /`; `||`; `CASE WHEN …
//! THEN … [ELSE …] END`; the functions `coalesce`, `format_number` and `char`.
//!
//! QGIS's grammar (src/core/expression/qgsexpressionparser.yy) binds, loosest first: OR, AND,
//! NOT, the comparisons, `+ -`, `* /`, then `||` (tighter than arithmetic: `2 * 3 || ''` is
//! `2 * (3 || '')`). NULL propagates through comparisons, arithmetic and `||`; `AND` is false
//! when either side is false, `OR` true when either is true. `tests/it/qgis_styles.rs` checks
//! this evaluator against QGIS itself where python3-qgis is installed.

use std::collections::HashMap;

/// A value: NULL, a number or a string.
#[derive(Debug, Clone, PartialEq)]
pub enum V {
    Null,
    Num(f64),
    Str(String),
}

impl V {
    /// As a number: numbers, and strings that read as one.
    fn num(&self) -> Option<f64> {
        match self {
            V::Num(n) => Some(*n),
            V::Str(s) => s.trim().parse().ok(),
            V::Null => None,
        }
    }

    /// As text, as `||` joins it (numbers in their shortest form).
    fn text(&self) -> Option<String> {
        match self {
            V::Null => None,
            V::Str(s) => Some(s.clone()),
            V::Num(n) => Some(if n.fract() == 0.0 && n.abs() < 1e15 {
                format!("{}", *n as i64)
            } else {
                format!("{n}")
            }),
        }
    }

    /// As a condition: None for NULL.
    fn truth(&self) -> Option<bool> {
        match self {
            V::Null => None,
            V::Num(n) => Some(*n != 0.0),
            V::Str(s) => Some(!s.is_empty()),
        }
    }
}

/// A feature's attributes by field name (a field not there reads NULL).
pub type Feature = HashMap<String, V>;

/// A feature's attributes from a GeoJSON feature's properties.
pub fn feature(properties: &serde_json::Value) -> Feature {
    properties
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| {
                    let v = match v {
                        serde_json::Value::Number(n) => n.as_f64().map_or(V::Null, V::Num),
                        serde_json::Value::String(s) => V::Str(s.clone()),
                        serde_json::Value::Bool(b) => V::Num(f64::from(u8::from(*b))),
                        _ => V::Null,
                    };
                    (k.clone(), v)
                })
                .collect()
        })
        .unwrap_or_default()
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Field(String),
    Str(String),
    Num(f64),
    Word(String),
    Op(&'static str),
}

fn tokens(text: &str) -> Vec<Tok> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    // A quoted run ending at the first unpaired `q` (`''` is one quote): its text, and the
    // index after it.
    let quoted = |mut i: usize, q: char| {
        let mut s = String::new();
        while i < chars.len() {
            if chars[i] == q {
                if chars.get(i + 1) == Some(&q) {
                    s.push(q);
                    i += 2;
                    continue;
                }
                return (s, i + 1);
            }
            s.push(chars[i]);
            i += 1;
        }
        panic!("unterminated {q} in {text}");
    };
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '"' || c == '\'' {
            let (s, next) = quoted(i + 1, c);
            out.push(if c == '"' { Tok::Field(s) } else { Tok::Str(s) });
            i = next;
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_digit()
                    || chars[i] == '.'
                    || ((chars[i] == 'e' || chars[i] == 'E')
                        && chars
                            .get(i + 1)
                            .is_some_and(|d| d.is_ascii_digit() || *d == '-' || *d == '+'))
                    || ((chars[i] == '-' || chars[i] == '+')
                        && i > start
                        && (chars[i - 1] == 'e' || chars[i - 1] == 'E')))
            {
                i += 1;
            }
            let s: String = chars[start..i].iter().collect();
            out.push(Tok::Num(s.parse().unwrap_or_else(|_| panic!("number {s}"))));
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Tok::Word(
                chars[start..i]
                    .iter()
                    .collect::<String>()
                    .to_ascii_uppercase(),
            ));
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let op = ["<=", ">=", "<>", "!=", "||"]
                .into_iter()
                .find(|o| *o == two)
                .or_else(|| {
                    ["=", "<", ">", "+", "-", "*", "/", "(", ")", ","]
                        .into_iter()
                        .find(|o| o.starts_with(c))
                })
                .unwrap_or_else(|| panic!("unknown character {c:?} in {text}"));
            i += op.chars().count();
            out.push(Tok::Op(op));
        }
    }
    out
}

/// An expression, parsed.
#[derive(Debug, Clone)]
pub enum Expr {
    Lit(V),
    Field(String),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    Bin(&'static str, Box<Expr>, Box<Expr>),
    IsNull(Box<Expr>, bool),
    Like(Box<Expr>, Box<Expr>),
    In(Box<Expr>, Vec<Expr>, bool),
    Case(Vec<(Expr, Expr)>, Option<Box<Expr>>),
    Call(String, Vec<Expr>),
}

struct Parser {
    toks: Vec<Tok>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at)
    }

    fn word(&mut self, w: &str) -> bool {
        if self.peek() == Some(&Tok::Word(w.into())) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn op(&mut self, ops: &[&'static str]) -> Option<&'static str> {
        match self.peek() {
            Some(Tok::Op(o)) if ops.contains(o) => {
                let o = *o;
                self.at += 1;
                Some(o)
            }
            _ => None,
        }
    }

    fn expect(&mut self, o: &'static str) {
        assert!(self.op(&[o]).is_some(), "expected {o} at token {}", self.at);
    }

    fn or(&mut self) -> Expr {
        let mut e = self.and();
        while self.word("OR") {
            e = Expr::Bin("OR", Box::new(e), Box::new(self.and()));
        }
        e
    }

    fn and(&mut self) -> Expr {
        let mut e = self.not();
        while self.word("AND") {
            e = Expr::Bin("AND", Box::new(e), Box::new(self.not()));
        }
        e
    }

    fn not(&mut self) -> Expr {
        if self.word("NOT") {
            Expr::Not(Box::new(self.not()))
        } else {
            self.cmp()
        }
    }

    fn cmp(&mut self) -> Expr {
        let mut e = self.add();
        loop {
            if let Some(o) = self.op(&["=", "<>", "!=", "<", "<=", ">", ">="]) {
                e = Expr::Bin(o, Box::new(e), Box::new(self.add()));
            } else if self.word("LIKE") {
                e = Expr::Like(Box::new(e), Box::new(self.add()));
            } else if self.word("IS") {
                let negated = self.word("NOT");
                assert!(self.word("NULL"), "IS [NOT] NULL only");
                e = Expr::IsNull(Box::new(e), negated);
            } else if matches!(self.peek(), Some(Tok::Word(w)) if w == "IN" || w == "NOT") {
                let negated = self.word("NOT");
                assert!(self.word("IN"), "NOT IN only");
                self.expect("(");
                let mut list = vec![self.or()];
                while self.op(&[","]).is_some() {
                    list.push(self.or());
                }
                self.expect(")");
                e = Expr::In(Box::new(e), list, negated);
            } else {
                return e;
            }
        }
    }

    fn add(&mut self) -> Expr {
        let mut e = self.mul();
        while let Some(o) = self.op(&["+", "-"]) {
            e = Expr::Bin(o, Box::new(e), Box::new(self.mul()));
        }
        e
    }

    fn mul(&mut self) -> Expr {
        let mut e = self.concat();
        while let Some(o) = self.op(&["*", "/"]) {
            e = Expr::Bin(o, Box::new(e), Box::new(self.concat()));
        }
        e
    }

    fn concat(&mut self) -> Expr {
        let mut e = self.unary();
        while self.op(&["||"]).is_some() {
            e = Expr::Bin("||", Box::new(e), Box::new(self.unary()));
        }
        e
    }

    fn unary(&mut self) -> Expr {
        if self.op(&["-"]).is_some() {
            return Expr::Neg(Box::new(self.unary()));
        }
        self.primary()
    }

    fn primary(&mut self) -> Expr {
        let tok = self.peek().cloned();
        self.at += 1;
        match tok {
            Some(Tok::Num(n)) => Expr::Lit(V::Num(n)),
            Some(Tok::Str(s)) => Expr::Lit(V::Str(s)),
            Some(Tok::Field(f)) => Expr::Field(f),
            Some(Tok::Op("(")) => {
                let e = self.or();
                self.expect(")");
                e
            }
            Some(Tok::Word(w)) if w == "NULL" => Expr::Lit(V::Null),
            Some(Tok::Word(w)) if w == "CASE" => {
                let mut arms = Vec::new();
                while self.word("WHEN") {
                    let cond = self.or();
                    assert!(self.word("THEN"), "CASE WHEN … THEN");
                    arms.push((cond, self.or()));
                }
                let other = self.word("ELSE").then(|| Box::new(self.or()));
                assert!(self.word("END"), "CASE … END");
                Expr::Case(arms, other)
            }
            Some(Tok::Word(name)) => {
                self.expect("(");
                let mut args = Vec::new();
                if self.op(&[")"]).is_none() {
                    args.push(self.or());
                    while self.op(&[","]).is_some() {
                        args.push(self.or());
                    }
                    self.expect(")");
                }
                Expr::Call(name.to_ascii_lowercase(), args)
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// Parse a QGIS expression of the subset above (panics on anything else: a style paddy writes
/// with something this does not know is a test to extend, not to pass).
pub fn parse(text: &str) -> Expr {
    let mut p = Parser {
        toks: tokens(text),
        at: 0,
    };
    let e = p.or();
    assert!(p.at == p.toks.len(), "trailing tokens in {text}");
    e
}

/// `n` with `places` decimals and thousands separated by commas, as QGIS's `format_number`
/// writes it in an English locale.
pub fn format_number(n: f64, places: usize) -> String {
    let s = format!("{:.*}", places, n.abs());
    let (int, frac) = s
        .split_once('.')
        .map_or((s.as_str(), None), |(a, b)| (a, Some(b)));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if n < 0.0 && s.chars().any(|c| c.is_ascii_digit() && c != '0') {
        "-"
    } else {
        ""
    };
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// `e` for feature `f`.
pub fn eval(e: &Expr, f: &Feature) -> V {
    let num2 = |a: &Expr, b: &Expr| Some((eval(a, f).num()?, eval(b, f).num()?));
    match e {
        Expr::Lit(v) => v.clone(),
        Expr::Field(name) => f.get(name).cloned().unwrap_or(V::Null),
        Expr::Not(x) => eval(x, f)
            .truth()
            .map_or(V::Null, |t| V::Num(f64::from(u8::from(!t)))),
        Expr::Neg(x) => eval(x, f).num().map_or(V::Null, |n| V::Num(-n)),
        Expr::IsNull(x, negated) => {
            let null = eval(x, f) == V::Null;
            V::Num(f64::from(u8::from(null != *negated)))
        }
        Expr::Like(x, pattern) => match (eval(x, f).text(), eval(pattern, f).text()) {
            (Some(t), Some(p)) => {
                let t: Vec<char> = t.chars().collect();
                let p: Vec<char> = p.chars().collect();
                V::Num(f64::from(u8::from(like(&t, &p))))
            }
            _ => V::Null,
        },
        Expr::In(x, list, negated) => {
            let v = eval(x, f);
            if v == V::Null {
                return V::Null;
            }
            let found = list
                .iter()
                .any(|item| equal(&v, &eval(item, f)) == Some(true));
            V::Num(f64::from(u8::from(found != *negated)))
        }
        Expr::Case(arms, other) => arms
            .iter()
            .find(|(cond, _)| eval(cond, f).truth() == Some(true))
            .map(|(_, then)| eval(then, f))
            .or_else(|| other.as_ref().map(|o| eval(o, f)))
            .unwrap_or(V::Null),
        Expr::Bin("AND", a, b) => match (eval(a, f).truth(), eval(b, f).truth()) {
            (Some(false), _) | (_, Some(false)) => V::Num(0.0),
            (Some(true), Some(true)) => V::Num(1.0),
            _ => V::Null,
        },
        Expr::Bin("OR", a, b) => match (eval(a, f).truth(), eval(b, f).truth()) {
            (Some(true), _) | (_, Some(true)) => V::Num(1.0),
            (Some(false), Some(false)) => V::Num(0.0),
            _ => V::Null,
        },
        Expr::Bin("||", a, b) => match (eval(a, f).text(), eval(b, f).text()) {
            (Some(x), Some(y)) => V::Str(x + &y),
            _ => V::Null,
        },
        Expr::Bin(op @ ("+" | "-" | "*" | "/"), a, b) => num2(a, b).map_or(V::Null, |(x, y)| {
            V::Num(match *op {
                "+" => x + y,
                "-" => x - y,
                "*" => x * y,
                _ => x / y,
            })
        }),
        Expr::Bin(op, a, b) => {
            let (x, y) = (eval(a, f), eval(b, f));
            let order = match (x.num(), y.num()) {
                (Some(p), Some(q)) => p.partial_cmp(&q),
                _ => match (x.text(), y.text()) {
                    (Some(p), Some(q)) => Some(p.cmp(&q)),
                    _ => None,
                },
            };
            let Some(order) = order else { return V::Null };
            use std::cmp::Ordering::*;
            let holds = match *op {
                "=" => order == Equal,
                "<>" | "!=" => order != Equal,
                "<" => order == Less,
                "<=" => order != Greater,
                ">" => order == Greater,
                ">=" => order != Less,
                _ => panic!("operator {op}"),
            };
            V::Num(f64::from(u8::from(holds)))
        }
        Expr::Call(name, args) => call(name, args, f),
    }
}

/// Whether `text` matches the LIKE `pattern` (`%` any run, `_` one character; case counts).
fn like(text: &[char], pattern: &[char]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some(('%', rest)) => (0..=text.len()).any(|k| like(&text[k..], rest)),
        Some((p, rest)) => text
            .split_first()
            .is_some_and(|(t, more)| (*p == '_' || p == t) && like(more, rest)),
    }
}

fn equal(a: &V, b: &V) -> Option<bool> {
    match (a.num(), b.num()) {
        (Some(x), Some(y)) => Some(x == y),
        _ => Some(a.text()? == b.text()?),
    }
}

fn call(name: &str, args: &[Expr], f: &Feature) -> V {
    let arg = |k: usize| args.get(k).map_or(V::Null, |a| eval(a, f));
    match name {
        "coalesce" => args
            .iter()
            .map(|a| eval(a, f))
            .find(|v| *v != V::Null)
            .unwrap_or(V::Null),
        "format_number" => match (arg(0).num(), arg(1).num()) {
            (Some(n), Some(p)) => V::Str(format_number(n, p.max(0.0) as usize)),
            _ => V::Null,
        },
        "char" => arg(0)
            .num()
            .and_then(|n| char::from_u32(n as u32))
            .map_or(V::Null, |c| V::Str(c.to_string())),
        _ => panic!("function {name} is not in the subset"),
    }
}

/// Whether `filter` holds for `f` (NULL does not).
pub fn holds(filter: &str, f: &Feature) -> bool {
    eval(&parse(filter), f).truth() == Some(true)
}

/// `expression` for `f` as text ("" for NULL).
pub fn text(expression: &str, f: &Feature) -> String {
    eval(&parse(expression), f).text().unwrap_or_default()
}

#[test]
fn the_qgis_subset_evaluates_as_qgis_documents_it() {
    let f: Feature = [
        ("rate".to_string(), V::Num(40.0)),
        ("status".to_string(), V::Str("not observed".into())),
        ("none".to_string(), V::Null),
    ]
    .into_iter()
    .collect();
    assert!(holds("\"rate\" > 30 AND \"rate\" <= 40", &f));
    assert!(!holds("\"rate\" > 40 AND \"rate\" <= 50", &f));
    assert!(holds("\"status\" IN ('a', 'not observed')", &f));
    assert!(holds("\"status\" LIKE 'not obs%'", &f));
    assert!(holds("\"status\" LIKE '%_bserved'", &f));
    assert!(!holds("\"status\" LIKE 'observed%'", &f));
    assert!(!holds("\"none\" > 0", &f));
    assert!(holds("\"none\" IS NULL AND \"rate\" IS NOT NULL", &f));
    assert!(holds("NOT \"none\" > 0 OR \"rate\" = 40", &f));
    // || binds tighter than arithmetic.
    assert_eq!(text("'a' || (1 + 2)", &f), "a3");
    assert_eq!(text("2 * 3 || ''", &f), "6");
    assert_eq!(text("'x' || \"none\"", &f), "");
    assert_eq!(
        text(
            "CASE WHEN \"none\" > 1 THEN 'a' WHEN \"rate\" >= 40 THEN 'b' END",
            &f
        ),
        "b"
    );
    assert_eq!(text("coalesce(\"none\", 'it''s')", &f), "it's");
    assert_eq!(
        text("format_number(1234.56, 1) || char(10)", &f),
        "1,234.6\n"
    );
    assert_eq!(format_number(-0.04, 1), "0.0");
    assert_eq!(format_number(-12.6, 0), "-13");
}
