//! The catalogue's formula language (numbers, symbols, `+ - * / **`, parentheses) parsed into a
//! tree and evaluated in float64. This is the reference the fast f32 kernels are checked against;
//! it is not meant for the per-pixel hot path.

use std::collections::BTreeSet;
use std::fmt;

/// A parsed formula.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Num(f64),
    Sym(String),
    Neg(Box<Expr>),
    Bin(Op, Box<Expr>, Box<Expr>),
}

/// Binary operators of the formula language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
}

impl Op {
    /// The operation in float64.
    pub fn apply(self, a: f64, b: f64) -> f64 {
        match self {
            Op::Add => a + b,
            Op::Sub => a - b,
            Op::Mul => a * b,
            Op::Div => a / b,
            Op::Pow => a.powf(b),
        }
    }
}

/// How deep a formula may nest: every parenthesis, sign, power and chained operator adds a
/// level (`a + b + c` is two levels, `((a))` one). Parsing, compiling and evaluating recurse
/// no deeper than this, so no formula can overflow the stack.
pub const MAX_DEPTH: usize = 256;

/// How many tokens (numbers, symbols, operators, parentheses) a formula may have.
pub const MAX_TOKENS: usize = 10_000;

/// A syntax error with the character offset where it was found.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    pub position: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at character {}: {}", self.position + 1, self.message)
    }
}

impl Expr {
    /// Parse a catalogue formula such as `(N - R)/(N + R)` or `(2 * N + 1) ** 0.5`.
    pub fn parse(text: &str) -> Result<Expr, ParseError> {
        let mut p = Parser {
            src: text.as_bytes(),
            pos: 0,
            tokens: 0,
            nesting: 0,
        };
        let (e, _) = p.sum()?;
        p.skip_ws();
        if p.pos < p.src.len() {
            return Err(p.error("unexpected text after the end of the formula"));
        }
        Ok(e)
    }

    /// The symbols (bands and constants) the formula uses.
    pub fn symbols(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        self.collect(&mut out);
        out
    }

    fn collect(&self, out: &mut BTreeSet<String>) {
        match self {
            Expr::Num(_) => {}
            Expr::Sym(s) => {
                out.insert(s.clone());
            }
            Expr::Neg(e) => e.collect(out),
            Expr::Bin(_, a, b) => {
                a.collect(out);
                b.collect(out);
            }
        }
    }

    /// The values the formula can take where that is plain from its form: `[-1, 1]` for a
    /// normalised difference `(a - b) / (a + b)` of two bands (`is_band` tells bands from
    /// constants) of non-negative reflectance (NDVI, NDRE, LSWI, …). None: not known.
    pub fn value_range(&self, is_band: &dyn Fn(&str) -> bool) -> Option<(f64, f64)> {
        let Expr::Bin(Op::Div, top, bottom) = self else {
            return None;
        };
        let (Expr::Bin(Op::Sub, a, b), Expr::Bin(Op::Add, c, d)) = (&**top, &**bottom) else {
            return None;
        };
        let band = |e: &Expr| match e {
            Expr::Sym(s) if is_band(s) => Some(s.clone()),
            _ => None,
        };
        let (a, b, c, d) = (band(a)?, band(b)?, band(c)?, band(d)?);
        let same = (a == c && b == d) || (a == d && b == c);
        (same && a != b).then_some((-1.0, 1.0))
    }

    /// Evaluate in float64; `lookup` gives each symbol's value (None: unknown symbol).
    pub fn eval(&self, lookup: &dyn Fn(&str) -> Option<f64>) -> Result<f64, String> {
        Ok(match self {
            Expr::Num(v) => *v,
            Expr::Sym(s) => lookup(s).ok_or_else(|| format!("no value for {s}"))?,
            Expr::Neg(e) => -e.eval(lookup)?,
            Expr::Bin(op, a, b) => op.apply(a.eval(lookup)?, b.eval(lookup)?),
        })
    }
}

struct Parser<'a> {
    src: &'a [u8],
    pos: usize,
    /// Tokens read so far.
    tokens: usize,
    /// How many `unary` calls are open: every recursion of the parser passes through one.
    nesting: usize,
}

/// A parsed subtree and its depth (a number or symbol is depth 0).
type Parsed = (Expr, usize);

impl Parser<'_> {
    fn error(&self, message: &str) -> ParseError {
        ParseError {
            position: self.pos,
            message: message.to_string(),
        }
    }

    fn skip_ws(&mut self) {
        while self.pos < self.src.len() && self.src[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
    }

    fn eat(&mut self, token: &str) -> bool {
        self.skip_ws();
        if self.src[self.pos..].starts_with(token.as_bytes()) {
            self.pos += token.len();
            self.tokens += 1;
            true
        } else {
            false
        }
    }

    /// Refuse a token past [`MAX_TOKENS`].
    fn count(&self) -> Result<(), ParseError> {
        if self.tokens > MAX_TOKENS {
            return Err(self.error(&format!(
                "the formula is longer than {MAX_TOKENS} numbers, symbols and operators"
            )));
        }
        Ok(())
    }

    /// `Bin(op, a, b)`, refused when deeper than [`MAX_DEPTH`].
    fn join(&self, op: Op, (a, da): Parsed, (b, db): Parsed) -> Result<Parsed, ParseError> {
        let depth = da.max(db) + 1;
        if depth > MAX_DEPTH {
            return Err(self.too_deep());
        }
        Ok((Expr::Bin(op, Box::new(a), Box::new(b)), depth))
    }

    fn too_deep(&self) -> ParseError {
        self.error(&format!(
            "the formula nests deeper than {MAX_DEPTH} levels (each parenthesis, sign, power or chained operator is one)"
        ))
    }

    // sum := product (('+' | '-') product)*
    fn sum(&mut self) -> Result<Parsed, ParseError> {
        let mut left = self.product()?;
        loop {
            let op = if self.eat("+") {
                Op::Add
            } else if self.eat("-") {
                Op::Sub
            } else {
                return Ok(left);
            };
            self.count()?;
            let right = self.product()?;
            left = self.join(op, left, right)?;
        }
    }

    // product := unary (('*' | '/') unary)*   ('**' is not a product)
    fn product(&mut self) -> Result<Parsed, ParseError> {
        let mut left = self.unary()?;
        loop {
            self.skip_ws();
            let op = if self.src[self.pos..].starts_with(b"**") {
                return Ok(left);
            } else if self.eat("*") {
                Op::Mul
            } else if self.eat("/") {
                Op::Div
            } else {
                return Ok(left);
            };
            self.count()?;
            let right = self.unary()?;
            left = self.join(op, left, right)?;
        }
    }

    // unary := ('-' | '+') unary | power      (as in Python: -x ** 2 == -(x ** 2))
    // Every recursion of the parser passes through here, so this is where its depth is bounded.
    fn unary(&mut self) -> Result<Parsed, ParseError> {
        self.skip_ws();
        if self.nesting >= MAX_DEPTH {
            return Err(self.too_deep());
        }
        self.nesting += 1;
        let parsed = self.signed();
        self.nesting -= 1;
        parsed
    }

    fn signed(&mut self) -> Result<Parsed, ParseError> {
        if self.eat("-") {
            self.count()?;
            let (e, depth) = self.unary()?;
            if depth + 1 > MAX_DEPTH {
                return Err(self.too_deep());
            }
            return Ok((Expr::Neg(Box::new(e)), depth + 1));
        }
        if self.eat("+") {
            self.count()?;
            return self.unary();
        }
        self.power()
    }

    // power := atom ('**' unary)?   (right-associative)
    fn power(&mut self) -> Result<Parsed, ParseError> {
        let base = self.atom()?;
        if self.eat("**") {
            self.count()?;
            let exponent = self.unary()?;
            return self.join(Op::Pow, base, exponent);
        }
        Ok(base)
    }

    fn atom(&mut self) -> Result<Parsed, ParseError> {
        self.skip_ws();
        let start = self.pos;
        let Some(&c) = self.src.get(self.pos) else {
            return Err(self.error("formula ends where a number, symbol or '(' was expected"));
        };
        self.tokens += 1;
        self.count()?;
        if c == b'(' {
            self.pos += 1;
            let e = self.sum()?;
            if !self.eat(")") {
                return Err(self.error("expected ')'"));
            }
            return Ok(e);
        }
        if c.is_ascii_digit() || c == b'.' {
            while self.pos < self.src.len()
                && (self.src[self.pos].is_ascii_digit() || self.src[self.pos] == b'.')
            {
                self.pos += 1;
            }
            // Exponent part (1e-3), only when followed by digits.
            if matches!(self.src.get(self.pos), Some(b'e' | b'E')) {
                let mut p = self.pos + 1;
                if matches!(self.src.get(p), Some(b'+' | b'-')) {
                    p += 1;
                }
                if self.src.get(p).is_some_and(u8::is_ascii_digit) {
                    while self.src.get(p).is_some_and(u8::is_ascii_digit) {
                        p += 1;
                    }
                    self.pos = p;
                }
            }
            let text = std::str::from_utf8(&self.src[start..self.pos]).unwrap_or("");
            return text
                .parse()
                .map(|v| (Expr::Num(v), 0))
                .map_err(|_| ParseError {
                    position: start,
                    message: format!("'{text}' is not a number"),
                });
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            while self.pos < self.src.len()
                && (self.src[self.pos].is_ascii_alphanumeric() || self.src[self.pos] == b'_')
            {
                self.pos += 1;
            }
            let name = String::from_utf8_lossy(&self.src[start..self.pos]).into_owned();
            return Ok((Expr::Sym(name), 0));
        }
        Err(self.error(&format!("unexpected '{}'", c as char)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(text: &str, vars: &[(&str, f64)]) -> f64 {
        let e = Expr::parse(text).unwrap();
        e.eval(&|s| vars.iter().find(|(k, _)| *k == s).map(|(_, v)| *v))
            .unwrap()
    }

    #[test]
    fn normalised_differences_have_a_known_range() {
        let band = |s: &str| matches!(s, "N" | "R" | "RE1" | "G");
        let range = |text: &str| Expr::parse(text).unwrap().value_range(&band);
        assert_eq!(range("(N - R)/(N + R)"), Some((-1.0, 1.0)));
        assert_eq!(range("(N - RE1) / (RE1 + N)"), Some((-1.0, 1.0)));
        assert_eq!(range("(G-N)/(G+N)"), Some((-1.0, 1.0)));
        // Not a normalised difference of two bands: range unknown.
        for text in [
            "(N - R)/(N + R + L)",
            "(N - L)/(N + L)",
            "(N - R)/(N + G)",
            "(N - N)/(N + N)",
            "N / R - 1",
            "g * (N - R) / (N + R)",
        ] {
            assert_eq!(range(text), None, "{text}");
        }
    }

    #[test]
    fn precedence_matches_python() {
        assert_eq!(eval("1 + 2 * 3", &[]), 7.0);
        assert_eq!(eval("-2 ** 2", &[]), -4.0);
        assert_eq!(eval("2 ** 3 ** 2", &[]), 512.0);
        assert_eq!(eval("2 ** -1", &[]), 0.5);
        assert_eq!(eval("8 / 4 / 2", &[]), 1.0);
        assert_eq!(eval("1.5e1 - 5", &[]), 10.0);
        assert_eq!(
            eval("(N - R)/(N + R)", &[("N", 0.5), ("R", 0.1)]),
            0.4 / 0.6
        );
    }

    #[test]
    fn errors_point_at_the_position() {
        let err = Expr::parse("(N - R").unwrap_err();
        assert_eq!(err.position, 6);
        let err = Expr::parse("N + * R").unwrap_err();
        assert_eq!(err.position, 4);
        assert!(Expr::parse("N R").is_err());
    }

    #[test]
    fn deep_or_long_formulas_are_refused_not_overflowed() {
        let nested = format!("{}N{}", "(".repeat(20_000), ")".repeat(20_000));
        let err = Expr::parse(&nested).unwrap_err();
        assert!(err.message.contains("deeper than 256"), "{err}");
        assert_eq!(err.position, MAX_DEPTH);
        let signs = format!("{}N", "-".repeat(20_000));
        assert!(Expr::parse(&signs).unwrap_err().message.contains("deeper"));
        let powers = vec!["N"; 20_000].join("**");
        assert!(Expr::parse(&powers).unwrap_err().message.contains("deeper"));
        let flat = vec!["N"; 45_000].join(" + ");
        let err = Expr::parse(&flat).unwrap_err();
        assert!(err.message.contains("deeper than 256"), "{err}");
        // Balanced, so shallow, but too long.
        let mut balanced = "N".to_string();
        while balanced.len() < 60_000 {
            balanced = format!("({balanced}) + ({balanced})");
        }
        let err = Expr::parse(&balanced).unwrap_err();
        assert!(err.message.contains("longer than 10000"), "{err}");
        // At the limits: accepted.
        let deepest = format!(
            "{}N{}",
            "(".repeat(MAX_DEPTH - 1),
            ")".repeat(MAX_DEPTH - 1)
        );
        assert!(Expr::parse(&deepest).is_ok());
        let longest = vec!["N"; MAX_DEPTH + 1].join(" + ");
        assert_eq!(eval(&longest, &[("N", 1.0)]), (MAX_DEPTH + 1) as f64);
        assert!(Expr::parse(&vec!["N"; MAX_DEPTH + 2].join(" + ")).is_err());
    }

    #[test]
    fn every_catalogue_formula_parses() {
        for def in crate::catalogue::Catalogue::builtin().indices() {
            let e = Expr::parse(&def.formula)
                .unwrap_or_else(|err| panic!("{}: {err}: {}", def.short_name, def.formula));
            for s in e.symbols() {
                assert!(
                    def.bands.contains(&s),
                    "{} uses {s} not listed in its bands",
                    def.short_name
                );
            }
        }
    }
}
