//! The expression engine: a catalogue formula compiled to a small register program that runs
//! over chunks of [`CHUNK`] pixels. Each instruction is one tight loop over a chunk (so the
//! compiler vectorises it), never a walk of the formula tree per pixel.
//!
//! Registers are float64: bands are widened once per chunk, every operation runs in f64 and the
//! result is rounded to f32 at the end, so any catalogue formula — poles, cancellations and
//! all — agrees with a float64 evaluation to f32 precision.
//!
//! ```
//! use paddy::catalogue::{formula::Expr, Role};
//! use paddy::kernels::expr::{Program, Symbol};
//!
//! let expr = Expr::parse("(N - RE1) / (N + RE1)").unwrap();
//! let program = Program::compile(&expr, &|s| Role::parse_symbol(s).map(Symbol::Band)).unwrap();
//! assert_eq!(program.bands(), &[Role::N, Role::RE1]);
//! let (nir, re) = ([0.5_f32, 0.0], [0.3_f32, 0.0]);
//! let mut out = [0.0_f32; 2];
//! program.eval(&[&nir, &re], &mut out, &mut Vec::new());
//! assert!((out[0] - 0.25).abs() < 1e-7);
//! assert!(out[1].is_nan()); // 0/0 is undefined
//! ```

use crate::catalogue::formula::{Expr, Op};
use crate::catalogue::Role;

/// Pixels per chunk: a register is 8 KiB, so a program's registers stay in L1/L2 cache.
pub const CHUNK: usize = 1024;

/// What a formula symbol stands for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Symbol {
    /// A band, read from the input slices.
    Band(Role),
    /// A constant with its value.
    Value(f64),
}

/// Where an instruction reads a value from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Operand {
    /// Input slice `i` (in the order of [`Program::bands`]), widened to f64.
    Band(usize),
    /// Register `r`.
    Reg(usize),
    /// A constant.
    Const(f64),
}

/// One-operand operations, including the powers that have cheaper forms than `powf`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Unary {
    Neg,
    Sqrt,
    Square,
    Recip,
    Powi(i32),
    Powf(f64),
}

/// One instruction: `dst = a op b` or `dst = op a`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Instr {
    Binary {
        op: Op,
        dst: usize,
        a: Operand,
        b: Operand,
    },
    Unary {
        op: Unary,
        dst: usize,
        a: Operand,
    },
    /// `dst = a + k·x` (or `a − k·x`): a constant multiply and an add fused into one pass. The
    /// same two f64 operations in the same order as unfused, so the same bits.
    MulAdd {
        dst: usize,
        a: Operand,
        k: f64,
        x: Operand,
        subtract: bool,
    },
}

/// A compiled formula.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    instrs: Vec<Instr>,
    result: Operand,
    registers: usize,
    bands: Vec<Role>,
}

/// The folded tree: constants computed in float64 at compile time.
enum Node {
    Const(f64),
    Band(usize),
    Neg(Box<Node>),
    Bin(Op, Box<Node>, Box<Node>),
}

/// `k · x` with a constant `k` (either side), as (k, x).
fn scaled(n: &Node) -> Option<(f64, &Node)> {
    match n {
        Node::Bin(Op::Mul, a, b) => match (&**a, &**b) {
            (Node::Const(k), x) | (x, Node::Const(k)) => Some((*k, x)),
            _ => None,
        },
        _ => None,
    }
}

struct Compiler {
    instrs: Vec<Instr>,
    free: Vec<usize>,
    registers: usize,
    bands: Vec<Role>,
}

impl Compiler {
    fn fold(&mut self, e: &Expr, bind: &dyn Fn(&str) -> Option<Symbol>) -> Result<Node, String> {
        Ok(match e {
            Expr::Num(v) => Node::Const(*v),
            Expr::Sym(s) => match bind(s) {
                Some(Symbol::Value(v)) => Node::Const(v),
                Some(Symbol::Band(role)) => {
                    let slot = match self.bands.iter().position(|&r| r == role) {
                        Some(i) => i,
                        None => {
                            self.bands.push(role);
                            self.bands.len() - 1
                        }
                    };
                    Node::Band(slot)
                }
                None => return Err(s.clone()),
            },
            Expr::Neg(a) => match self.fold(a, bind)? {
                Node::Const(v) => Node::Const(-v),
                a => Node::Neg(Box::new(a)),
            },
            Expr::Bin(op, a, b) => match (self.fold(a, bind)?, self.fold(b, bind)?) {
                (Node::Const(x), Node::Const(y)) => Node::Const(op.apply(x, y)),
                (a, b) => Node::Bin(*op, Box::new(a), Box::new(b)),
            },
        })
    }

    fn register(&mut self) -> usize {
        self.free.pop().unwrap_or_else(|| {
            self.registers += 1;
            self.registers - 1
        })
    }

    fn release(&mut self, o: Operand) {
        if let Operand::Reg(r) = o {
            self.free.push(r);
        }
    }

    fn unary(&mut self, op: Unary, a: Operand) -> Operand {
        let dst = self.register();
        self.release(a);
        self.instrs.push(Instr::Unary { op, dst, a });
        Operand::Reg(dst)
    }

    fn emit(&mut self, n: &Node) -> Operand {
        match n {
            Node::Const(v) => Operand::Const(*v),
            Node::Band(i) => Operand::Band(*i),
            Node::Neg(a) => {
                let a = self.emit(a);
                self.unary(Unary::Neg, a)
            }
            Node::Bin(Op::Pow, a, b) if matches!(**b, Node::Const(_)) => {
                let Node::Const(k) = **b else { unreachable!() };
                let a = self.emit(a);
                let op = if k == 1.0 {
                    return a;
                } else if k == 2.0 {
                    Unary::Square
                } else if k == 0.5 {
                    Unary::Sqrt
                } else if k == -1.0 {
                    Unary::Recip
                } else if k.fract() == 0.0 && k.abs() <= 16.0 {
                    Unary::Powi(k as i32)
                } else {
                    Unary::Powf(k)
                };
                self.unary(op, a)
            }
            Node::Bin(op @ (Op::Add | Op::Sub), l, r)
                if scaled(r).is_some() || (*op == Op::Add && scaled(l).is_some()) =>
            {
                // a ± k·x in one pass (k·x + a is the same sum).
                let (other, (k, x)) = match scaled(r) {
                    Some(kx) => (l, kx),
                    None => (r, scaled(l).unwrap_or((1.0, l))),
                };
                let (a, x) = (self.emit(other), self.emit(x));
                let dst = self.register();
                self.release(a);
                self.release(x);
                self.instrs.push(Instr::MulAdd {
                    dst,
                    a,
                    k,
                    x,
                    subtract: *op == Op::Sub,
                });
                Operand::Reg(dst)
            }
            Node::Bin(op, a, b) => {
                let (a, b) = (self.emit(a), self.emit(b));
                // dst is taken before the sources are released: never aliases them.
                let dst = self.register();
                self.release(a);
                self.release(b);
                self.instrs.push(Instr::Binary { op: *op, dst, a, b });
                Operand::Reg(dst)
            }
        }
    }
}

/// A value type an instruction can read: input bands are f32, registers f64.
trait Load: Copy {
    fn load(self) -> f64;
}

impl Load for f32 {
    #[inline(always)]
    fn load(self) -> f64 {
        self as f64
    }
}

impl Load for f64 {
    #[inline(always)]
    fn load(self) -> f64 {
        self
    }
}

/// A value type an instruction can write: registers (f64) or the output (f32, NaN where the
/// value is undefined or beyond f32).
trait Store {
    fn store(&mut self, v: f64);
}

impl Store for f64 {
    #[inline(always)]
    fn store(&mut self, v: f64) {
        *self = v;
    }
}

impl Store for f32 {
    #[inline(always)]
    fn store(&mut self, v: f64) {
        *self = narrow(v);
    }
}

/// Round to f32; NaN where the value is undefined or does not fit.
#[inline(always)]
fn narrow(v: f64) -> f32 {
    let v = v as f32;
    if v.is_finite() {
        v
    } else {
        f32::NAN
    }
}

/// A source of values for one chunk.
#[derive(Clone, Copy)]
enum Src<'a> {
    Band(&'a [f32]),
    Reg(&'a [f64]),
    Const(f64),
}

#[inline(always)]
fn map_slices<O: Store, A: Load, B: Load>(
    out: &mut [O],
    a: &[A],
    b: &[B],
    f: impl Fn(f64, f64) -> f64,
) {
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        o.store(f(x.load(), y.load()));
    }
}

#[inline(always)]
fn map_slice<O: Store, A: Load>(out: &mut [O], a: &[A], f: impl Fn(f64) -> f64) {
    for (o, &x) in out.iter_mut().zip(a) {
        o.store(f(x.load()));
    }
}

#[inline(always)]
fn fill<O: Store>(out: &mut [O], v: f64) {
    for o in out.iter_mut() {
        o.store(v);
    }
}

#[inline(always)]
fn zip2<O: Store>(out: &mut [O], a: Src, b: Src, f: impl Fn(f64, f64) -> f64) {
    match (a, b) {
        (Src::Band(a), Src::Band(b)) => map_slices(out, a, b, f),
        (Src::Band(a), Src::Reg(b)) => map_slices(out, a, b, f),
        (Src::Reg(a), Src::Band(b)) => map_slices(out, a, b, f),
        (Src::Reg(a), Src::Reg(b)) => map_slices(out, a, b, f),
        (Src::Band(a), Src::Const(y)) => map_slice(out, a, |x| f(x, y)),
        (Src::Reg(a), Src::Const(y)) => map_slice(out, a, |x| f(x, y)),
        (Src::Const(x), Src::Band(b)) => map_slice(out, b, |y| f(x, y)),
        (Src::Const(x), Src::Reg(b)) => map_slice(out, b, |y| f(x, y)),
        (Src::Const(x), Src::Const(y)) => fill(out, f(x, y)),
    }
}

#[inline(always)]
fn map1<O: Store>(out: &mut [O], a: Src, f: impl Fn(f64) -> f64) {
    match a {
        Src::Band(a) => map_slice(out, a, f),
        Src::Reg(a) => map_slice(out, a, f),
        Src::Const(x) => fill(out, f(x)),
    }
}

#[inline(always)]
fn binary<O: Store>(op: Op, out: &mut [O], a: Src, b: Src) {
    match op {
        Op::Add => zip2(out, a, b, |x, y| x + y),
        Op::Sub => zip2(out, a, b, |x, y| x - y),
        Op::Mul => zip2(out, a, b, |x, y| x * y),
        Op::Div => zip2(out, a, b, |x, y| x / y),
        Op::Pow => zip2(out, a, b, f64::powf),
    }
}

#[inline(always)]
fn unary<O: Store>(op: Unary, out: &mut [O], a: Src) {
    match op {
        Unary::Neg => map1(out, a, |x| -x),
        Unary::Sqrt => map1(out, a, f64::sqrt),
        Unary::Square => map1(out, a, |x| x * x),
        Unary::Recip => map1(out, a, |x| 1.0 / x),
        Unary::Powi(k) => map1(out, a, |x| x.powi(k)),
        Unary::Powf(k) => map1(out, a, |x| x.powf(k)),
    }
}

#[inline(always)]
fn execute<O: Store>(instr: &Instr, out: &mut [O], a: Src, b: Src) {
    match *instr {
        Instr::Binary { op, .. } => binary(op, out, a, b),
        Instr::Unary { op, .. } => unary(op, out, a),
        Instr::MulAdd { k, subtract, .. } => {
            if subtract {
                zip2(out, a, b, |p, q| p - k * q)
            } else {
                zip2(out, a, b, |p, q| p + k * q)
            }
        }
    }
}

impl Instr {
    /// The register written and the two operands read (the second unused by unary ones).
    fn parts(&self) -> (usize, Operand, Operand) {
        match *self {
            Instr::Binary { dst, a, b, .. } => (dst, a, b),
            Instr::Unary { dst, a, .. } => (dst, a, Operand::Const(0.0)),
            Instr::MulAdd { dst, a, x, .. } => (dst, a, x),
        }
    }
}

/// The values of `o` for the pixels in `range` of the current chunk.
#[inline(always)]
fn source<'a>(
    o: Operand,
    inputs: &[&'a [f32]],
    regs: &'a [Vec<f64>],
    range: std::ops::Range<usize>,
) -> Src<'a> {
    match o {
        Operand::Band(i) => Src::Band(&inputs[i][range]),
        Operand::Reg(r) => Src::Reg(&regs[r][..range.len()]),
        Operand::Const(c) => Src::Const(c),
    }
}

impl Program {
    /// Compile `expr`; `bind` says what each symbol is. An unknown symbol is returned as the error.
    pub fn compile(expr: &Expr, bind: &dyn Fn(&str) -> Option<Symbol>) -> Result<Program, String> {
        let mut c = Compiler {
            instrs: Vec::new(),
            free: Vec::new(),
            registers: 0,
            bands: Vec::new(),
        };
        let tree = c.fold(expr, bind)?;
        let result = c.emit(&tree);
        Ok(Program {
            instrs: c.instrs,
            result,
            registers: c.registers,
            bands: c.bands,
        })
    }

    /// The bands the program reads, in the order `eval` takes them.
    pub fn bands(&self) -> &[Role] {
        &self.bands
    }

    /// The instructions (for tests and the curious).
    pub fn instructions(&self) -> &[Instr] {
        &self.instrs
    }

    /// Evaluate over `out.len()` pixels. `inputs[i]` is band `bands()[i]`; `scratch` holds the
    /// registers and is reused between calls. Undefined results (0/0, ±inf, roots of negative
    /// numbers, values beyond f32) are NaN.
    pub fn eval(&self, inputs: &[&[f32]], out: &mut [f32], scratch: &mut Vec<Vec<f64>>) {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked just above.
            unsafe { self.eval_avx2(inputs, out, scratch) };
            return;
        }
        self.eval_portable(inputs, out, scratch);
    }

    /// The same loops compiled for AVX2 (four f64 lanes instead of two). No FMA contraction
    /// happens in Rust, so results are identical to the portable path.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn eval_avx2(&self, inputs: &[&[f32]], out: &mut [f32], scratch: &mut Vec<Vec<f64>>) {
        self.eval_portable(inputs, out, scratch);
    }

    #[inline(always)]
    fn eval_portable(&self, inputs: &[&[f32]], out: &mut [f32], scratch: &mut Vec<Vec<f64>>) {
        if scratch.len() < self.registers {
            scratch.resize_with(self.registers, Vec::new);
        }
        for reg in scratch.iter_mut().take(self.registers) {
            reg.resize(CHUNK, 0.0);
        }
        let n = out.len();
        // The last instruction writes the output directly when it computes the result.
        let last = self
            .instrs
            .len()
            .checked_sub(1)
            .filter(|&i| self.result == Operand::Reg(self.instrs[i].parts().0));
        for start in (0..n).step_by(CHUNK) {
            let len = CHUNK.min(n - start);
            let range = start..start + len;
            let o = &mut out[range.clone()];
            for (i, instr) in self.instrs.iter().enumerate() {
                let (dst, a, b) = instr.parts();
                if Some(i) == last {
                    // The result goes straight to the f32 output.
                    let (a, b) = (
                        source(a, inputs, scratch, range.clone()),
                        source(b, inputs, scratch, range.clone()),
                    );
                    execute(instr, o, a, b);
                } else {
                    let mut d = std::mem::take(&mut scratch[dst]);
                    execute(
                        instr,
                        &mut d[..len],
                        source(a, inputs, scratch, range.clone()),
                        source(b, inputs, scratch, range.clone()),
                    );
                    scratch[dst] = d;
                }
            }
            if last.is_none() {
                match source(self.result, inputs, scratch, range.clone()) {
                    Src::Band(b) => map_slice(o, b, |x| x),
                    Src::Reg(r) => map_slice(o, r, |x| x),
                    Src::Const(c) => fill(o, c),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bind(s: &str) -> Option<Symbol> {
        Role::parse_symbol(s).map(Symbol::Band).or(match s {
            "L" => Some(Symbol::Value(0.5)),
            _ => None,
        })
    }

    #[test]
    fn constants_fold_and_powers_specialise() {
        let e = Expr::parse("(1.0 + L) * (N - R) / (N + R + L) + 2 ** 3 * 0").unwrap();
        let p = Program::compile(&e, &bind).unwrap();
        // no instruction has two constant operands
        for i in p.instructions() {
            if let Instr::Binary { a, b, .. } = i {
                assert!(!matches!((a, b), (Operand::Const(_), Operand::Const(_))));
            }
        }
        let e = Expr::parse("(N ** 2) + (R ** 0.5) + (N ** -1) + N ** 3 + R ** 1.5").unwrap();
        let p = Program::compile(&e, &bind).unwrap();
        let ops: Vec<Unary> = p
            .instructions()
            .iter()
            .filter_map(|i| match i {
                Instr::Unary { op, .. } => Some(*op),
                _ => None,
            })
            .collect();
        assert_eq!(
            ops,
            vec![
                Unary::Square,
                Unary::Sqrt,
                Unary::Recip,
                Unary::Powi(3),
                Unary::Powf(1.5)
            ]
        );
    }

    #[test]
    fn unknown_symbols_are_named() {
        let e = Expr::parse("N * kNN").unwrap();
        assert_eq!(Program::compile(&e, &bind).unwrap_err(), "kNN");
    }

    #[test]
    fn long_inputs_span_chunks_and_plain_bands_copy() {
        let n = CHUNK * 2 + 77;
        let nir: Vec<f32> = (0..n).map(|i| (i % 100) as f32 / 100.0).collect();
        let red: Vec<f32> = (0..n).map(|i| (i % 37) as f32 / 80.0).collect();
        let mut scratch = Vec::new();
        let p = Program::compile(&Expr::parse("(N - R) / (N + R)").unwrap(), &bind).unwrap();
        let mut out = vec![0.0; n];
        p.eval(&[&nir, &red], &mut out, &mut scratch);
        for i in 0..n {
            let (a, b) = (nir[i] as f64, red[i] as f64);
            let want = ((a - b) / (a + b)) as f32;
            if want.is_finite() {
                assert!((out[i] - want).abs() <= f32::EPSILON * want.abs(), "{i}");
            } else {
                assert!(out[i].is_nan());
            }
        }
        let p = Program::compile(&Expr::parse("N").unwrap(), &bind).unwrap();
        p.eval(&[&nir], &mut out, &mut scratch);
        assert_eq!(out, nir);
        let p = Program::compile(&Expr::parse("2 * L").unwrap(), &bind).unwrap();
        p.eval(&[], &mut out, &mut scratch);
        assert!(out.iter().all(|&v| v == 1.0));
    }
}
