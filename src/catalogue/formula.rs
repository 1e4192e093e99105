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
        };
        let e = p.sum()?;
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
}

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
            true
        } else {
            false
        }
    }

    // sum := product (('+' | '-') product)*
    fn sum(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.product()?;
        loop {
            let op = if self.eat("+") {
                Op::Add
            } else if self.eat("-") {
                Op::Sub
            } else {
                return Ok(left);
            };
            left = Expr::Bin(op, Box::new(left), Box::new(self.product()?));
        }
    }

    // product := unary (('*' | '/') unary)*   ('**' is not a product)
    fn product(&mut self) -> Result<Expr, ParseError> {
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
            left = Expr::Bin(op, Box::new(left), Box::new(self.unary()?));
        }
    }

    // unary := ('-' | '+') unary | power      (as in Python: -x ** 2 == -(x ** 2))
    fn unary(&mut self) -> Result<Expr, ParseError> {
        if self.eat("-") {
            return Ok(Expr::Neg(Box::new(self.unary()?)));
        }
        if self.eat("+") {
            return self.unary();
        }
        self.power()
    }

    // power := atom ('**' unary)?   (right-associative)
    fn power(&mut self) -> Result<Expr, ParseError> {
        let base = self.atom()?;
        if self.eat("**") {
            return Ok(Expr::Bin(Op::Pow, Box::new(base), Box::new(self.unary()?)));
        }
        Ok(base)
    }

    fn atom(&mut self) -> Result<Expr, ParseError> {
        self.skip_ws();
        let start = self.pos;
        let Some(&c) = self.src.get(self.pos) else {
            return Err(self.error("formula ends where a number, symbol or '(' was expected"));
        };
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
            return text.parse().map(Expr::Num).map_err(|_| ParseError {
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
            return Ok(Expr::Sym(name));
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
