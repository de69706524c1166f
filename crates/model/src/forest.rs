//! Seeded Extended Isolation Forest (EIF), generic over the input dimension.
//!
//! Owns the algorithm only: hyperparameters ([`ForestParams`] → [`ForestParams::check`]
//! → [`CheckedParams`] → [`ExtendedIsolationForest::fit`]), the flat tree storage,
//! scoring and the structural check run after loading ([`ExtendedIsolationForest::validate`]).
//! Feature transforms, calibration and the on-disk format live in [`crate::bundle`].
//!
//! # Algorithm
//!
//! S. Hariri, M. Carrasco Kind, R. J. Brunner, "Extended Isolation Forest",
//! IEEE TKDE 33(4), 2021 (arXiv:1811.02141, 2018), which generalises the isolation
//! forest of F. T. Liu, K. M. Ting, Z.-H. Zhou (ICDM 2008).
//!
//! * For each of `n_trees` trees draw `ψ = min(sample_size, n_rows)` training rows
//!   **without replacement** (partial Fisher–Yates).
//! * Grow the tree top-down. A node holding ≤ 1 point, or at depth `max_depth`
//!   (default `⌈log2 ψ⌉`), becomes a leaf that records its point count. Otherwise:
//!   - draw a normal vector `n` with every coordinate `~ N(0,1)` (Box–Muller),
//!     then set `dims − 1 − extension_level` randomly chosen coordinates to 0.
//!     `extension_level = 0` leaves one non-zero coordinate, i.e. the classic
//!     axis-parallel isolation forest; `dims − 1` (the default) is the fully
//!     extended forest whose hyperplanes have any orientation;
//!   - draw an intercept `p` uniformly inside the node's data bounding box
//!     (only the coordinates where `n` is non-zero matter);
//!   - a point `x` goes **left** iff `(x − p)·n ≤ 0`, evaluated as `x·n ≤ n·p`
//!     with the offset `n·p` precomputed and stored. Fit and score use the same
//!     dot-product routine, so training points land exactly where the tree says.
//!     Either child may be empty (as in the paper); identical points therefore
//!     just run down to `max_depth`.
//! * Path length of `x` in one tree: `h(x) = e + c(m)`, where `e` is the number of
//!   edges from the root to the leaf reached and `m` the leaf's training count;
//!   `c(m)` ([`c_factor`]) is the average path length of an unsuccessful BST search,
//!   `c(m) = 2 H(m−1) − 2(m−1)/m`, `H(i) ≈ ln i + γ`, `c(2) = 1`, `c(0) = c(1) = 0`.
//! * Score: `s(x) = 2^(−E[h(x)] / c(ψ))`, the mean over trees. Because every
//!   root splits, `E[h] ≥ 1`, so `0 < s < 1`; ≈ 0.5 is unremarkable, → 1 is isolated.
//!
//! # Randomness and determinism
//!
//! All draws come from one `ChaCha8Rng::seed_from_u64(seed)` stream, consumed in a
//! fixed order (per tree: the subsample, then per node in depth-first order: normal,
//! zeroed coordinates, intercept). Integers in `[0, n)` use Lemire's
//! multiply-and-reject and uniforms use the top 53 bits of `next_u64`, written
//! here rather than taken from `rand`'s distributions, so a `rand` upgrade cannot
//! change a trained forest. Same data + params + seed → bit-identical forest on
//! the same platform (Box–Muller uses the platform's `ln`/`cos`, which Rust does not
//! promise to be bit-identical across operating systems or architectures).
//!
//! # Storage
//!
//! Each tree is a flat `Vec` of nodes (no `Box` recursion: decoding hostile
//! bytes cannot overflow the stack) plus one flat `Vec<f64>` of normal vectors,
//! `dims` values per split node, dense with zeros where the extension level drops
//! coordinates. A split node holds its left/right child indices (always greater
//! than its own index), the index of its normal vector and the offset `n·p`; a
//! leaf holds its training count. Scoring walks these arrays and never allocates.

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::error::ModelError;

/// Largest supported input dimension (also sizes the bundle's stack scratch buffer).
pub const MAX_DIMS: usize = 256;
/// Largest supported number of trees.
pub const MAX_TREES: usize = 10_000;
/// Largest supported per-tree subsample.
pub const MAX_SAMPLE_SIZE: usize = 1 << 20;
/// Largest supported tree depth.
pub const MAX_DEPTH: usize = 64;

/// Euler–Mascheroni constant (γ), for the harmonic-number approximation.
const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

/// Forest hyperparameters, as written by the user (see [`ForestParams::check`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForestParams {
    /// Number of trees (default 200).
    pub n_trees: usize,
    /// Rows drawn (without replacement) per tree, ψ (default 256; clamped to the row count).
    pub sample_size: usize,
    /// Non-zero coordinates of each normal vector minus one. `None` = fully
    /// extended (`dims − 1`); `Some(0)` = classic axis-parallel isolation forest.
    pub extension_level: Option<usize>,
    /// Depth limit; `None` = `⌈log2 ψ⌉`.
    pub max_depth: Option<usize>,
    /// Seed of the ChaCha8 stream.
    pub seed: u64,
}

impl Default for ForestParams {
    fn default() -> Self {
        ForestParams {
            n_trees: 200,
            sample_size: 256,
            extension_level: None,
            max_depth: None,
            seed: 0,
        }
    }
}

/// Hyperparameters checked against a data shape, with defaults resolved.
/// Only obtainable from [`ForestParams::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedParams(Resolved);

#[derive(Debug, Clone, PartialEq)]
struct Resolved {
    params: ForestParams,
    dims: usize,
    n_rows: usize,
    sample_size: usize,
    extension_level: usize,
    max_depth: usize,
}

impl ForestParams {
    /// Checks the parameters against `dims` columns and `n_rows` rows and resolves
    /// the defaults. `sample_size` is clamped to `n_rows` (as in the original
    /// isolation forest); at least 2 rows are required.
    pub fn check(&self, dims: usize, n_rows: usize) -> Result<CheckedParams, ModelError> {
        if dims == 0 || dims > MAX_DIMS {
            return Err(ModelError::BadParams(format!(
                "{dims} input dimensions; supported: 1 to {MAX_DIMS}"
            )));
        }
        if self.n_trees == 0 || self.n_trees > MAX_TREES {
            return Err(ModelError::BadParams(format!(
                "n_trees = {}; supported: 1 to {MAX_TREES}",
                self.n_trees
            )));
        }
        if self.sample_size < 2 || self.sample_size > MAX_SAMPLE_SIZE {
            return Err(ModelError::BadParams(format!(
                "sample_size = {}; supported: 2 to {MAX_SAMPLE_SIZE}",
                self.sample_size
            )));
        }
        if n_rows < 2 {
            return Err(ModelError::BadData(format!(
                "{n_rows} training rows; need at least 2 (and a few hundred for a useful model)"
            )));
        }
        if u32::try_from(n_rows).is_err() {
            return Err(ModelError::BadData(format!(
                "{n_rows} training rows; at most {} supported",
                u32::MAX
            )));
        }
        let extension_level = match self.extension_level {
            None => dims - 1,
            Some(e) if e < dims => e,
            Some(e) => {
                return Err(ModelError::BadParams(format!(
                "extension_level = {e} but the data has {dims} dimensions; it must be at most {}",
                dims - 1
            )))
            }
        };
        let sample_size = self.sample_size.min(n_rows);
        let max_depth = match self.max_depth {
            None => ceil_log2(sample_size),
            Some(d) if (1..=MAX_DEPTH).contains(&d) => d,
            Some(d) => {
                return Err(ModelError::BadParams(format!(
                    "max_depth = {d}; supported: 1 to {MAX_DEPTH}"
                )))
            }
        };
        Ok(CheckedParams(Resolved {
            params: self.clone(),
            dims,
            n_rows,
            sample_size,
            extension_level,
            max_depth,
        }))
    }
}

impl CheckedParams {
    /// The parameters as given.
    pub fn params(&self) -> &ForestParams {
        &self.0.params
    }
    /// Input dimension the parameters were checked for.
    pub fn dims(&self) -> usize {
        self.0.dims
    }
    /// Row count the parameters were checked for.
    pub fn n_rows(&self) -> usize {
        self.0.n_rows
    }
    /// Effective subsample size ψ (after clamping to the row count).
    pub fn sample_size(&self) -> usize {
        self.0.sample_size
    }
    /// Resolved extension level.
    pub fn extension_level(&self) -> usize {
        self.0.extension_level
    }
    /// Resolved depth limit.
    pub fn max_depth(&self) -> usize {
        self.0.max_depth
    }
}

/// `⌈log2 n⌉` for `n ≥ 1`.
fn ceil_log2(n: usize) -> usize {
    if n <= 1 {
        0
    } else {
        (usize::BITS - (n - 1).leading_zeros()) as usize
    }
}

/// Average path length of an unsuccessful search in a binary search tree of `n`
/// keys: `2 H(n−1) − 2(n−1)/n` with `H(i) ≈ ln i + γ`; `c(2) = 1`, `c(0) = c(1) = 0`.
pub fn c_factor(n: usize) -> f64 {
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        _ => {
            let m = (n - 1) as f64;
            2.0 * (m.ln() + EULER_GAMMA) - 2.0 * m / n as f64
        }
    }
}

/// [`c_factor`] for leaf sizes, from a table for the common small sizes (the
/// same values bit for bit, without a `ln` per tree on the scoring path).
#[inline]
fn c_leaf(size: usize) -> f64 {
    const TABLE_LEN: usize = 256;
    static TABLE: std::sync::OnceLock<[f64; TABLE_LEN]> = std::sync::OnceLock::new();
    match TABLE
        .get_or_init(|| std::array::from_fn(c_factor))
        .get(size)
    {
        Some(c) => *c,
        None => c_factor(size),
    }
}

/// One node of a flat tree.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
enum Node {
    /// Internal node: `x` goes to `left` iff `normal·x ≤ offset`.
    Split {
        left: u32,
        right: u32,
        /// Index of the normal vector: values `normal*dims .. normal*dims+dims` of `Tree::normals`.
        normal: u32,
        /// `n·p`, the hyperplane offset.
        offset: f64,
    },
    /// External node with the number of training points that reached it.
    Leaf { size: u32 },
}

/// One isolation tree: nodes (root at 0, children after parents) and normals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Tree {
    nodes: Vec<Node>,
    normals: Vec<f64>,
}

/// A fitted Extended Isolation Forest (see the module docs for the algorithm).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtendedIsolationForest {
    dims: usize,
    sample_size: usize,
    extension_level: usize,
    max_depth: usize,
    trees: Vec<Tree>,
    /// The trees prepared for scoring, built at the first score (not stored:
    /// derived from `trees`, which nothing changes after fitting or loading).
    #[serde(skip)]
    prepared: Prepared,
}

/// One node of a tree prepared for scoring ([`Prepared`]).
#[derive(Debug, Clone, Copy)]
enum Step {
    /// A split whose normal has at most two non-zero coordinates, `w0` at
    /// `i0` and `w1` at `i1` (a missing one is weight 0 at coordinate 0).
    /// Coordinates are below [`MAX_DIMS`], 256: a `u8` indexes a 256-array
    /// without a bounds check.
    Sparse {
        left: u32,
        right: u32,
        i0: u8,
        i1: u8,
        w0: f64,
        w1: f64,
        offset: f64,
    },
    /// Any other split: the dot product with `normals[start..start + dims]`.
    Dense {
        left: u32,
        right: u32,
        start: usize,
        offset: f64,
    },
    /// A leaf: `c_leaf(size)`.
    Leaf { c: f64 },
    /// A split whose normal vector is out of range: the walk ends here.
    Stop,
}

/// The trees as [`Step`]s, one `Vec` per tree, node for node.
///
/// # Why the sparse dot product gives the same path
/// With extension level 1 every normal has at most two non-zero
/// coordinates. [`dot`] adds the products in a fixed order, but when `x` is
/// finite every other product is ±0, and adding ±0 to a non-zero value
/// leaves it unchanged, so the dense sum is `a + b` for the two non-zero
/// products `a` and `b` (IEEE addition is commutative), or a zero when that
/// is zero, whose sign `dot(n, x) <= offset` does not see. So the sparse
/// step is used only when `x` has `dims` finite values; otherwise the trees
/// are walked as stored ([`Tree::path_length`]).
#[derive(Default)]
struct Prepared(std::sync::OnceLock<PreparedTrees>);

/// The prepared form of a forest: [`Flat`] when every split is sparse and
/// every child comes after its parent (every forest fitted here with
/// extension level 0 or 1, the shipped one included), the per-tree steps
/// otherwise.
enum PreparedTrees {
    Flat(Flat),
    Steps(Vec<Vec<Step>>),
}

/// Bit of a [`Flat`] node reference that marks a leaf: the rest is an index
/// into [`Flat::leaves`].
const FLAT_LEAF: u32 = 1 << 31;

/// Every tree's sparse splits in one array and the leaves' `c_leaf(size)`
/// in another; a node reference is a split index, or a leaf index with
/// [`FLAT_LEAF`] set. A walk loads one split a level and no leaf record,
/// and needs no step budget: every child is later in the array than its
/// parent, so it ends at a leaf. Each split computes exactly what
/// [`Step::Sparse`] does, so the path lengths are bit for bit the same
/// (tested).
struct Flat {
    roots: Vec<u32>,
    splits: Vec<FlatSplit>,
    leaves: Vec<f64>,
}

#[derive(Clone, Copy)]
struct FlatSplit {
    w0: f64,
    w1: f64,
    offset: f64,
    left: u32,
    right: u32,
    i0: u8,
    i1: u8,
}

impl Flat {
    /// `steps` (one `Vec` per tree) as a flat forest, `None` unless every
    /// step is a sparse split or a leaf, every child index is past its
    /// parent's and inside its tree, and the counts fit the references.
    fn new(steps: &[Vec<Step>]) -> Option<Flat> {
        let mut f = Flat {
            roots: Vec::with_capacity(steps.len()),
            splits: Vec::new(),
            leaves: Vec::new(),
        };
        for tree in steps {
            // Each node's reference in the flat arrays, in tree order.
            let mut refs = Vec::with_capacity(tree.len());
            let (mut n_splits, mut n_leaves) = (f.splits.len(), f.leaves.len());
            for step in tree {
                match step {
                    Step::Sparse { .. } => {
                        refs.push(
                            u32::try_from(n_splits)
                                .ok()
                                .filter(|r| r & FLAT_LEAF == 0)?,
                        );
                        n_splits += 1;
                    }
                    Step::Leaf { .. } => {
                        refs.push(
                            u32::try_from(n_leaves)
                                .ok()
                                .filter(|r| r & FLAT_LEAF == 0)?
                                | FLAT_LEAF,
                        );
                        n_leaves += 1;
                    }
                    Step::Dense { .. } | Step::Stop => return None,
                }
            }
            f.roots.push(*refs.first()?);
            for (at, step) in tree.iter().enumerate() {
                match *step {
                    Step::Sparse {
                        left,
                        right,
                        i0,
                        i1,
                        w0,
                        w1,
                        offset,
                    } => {
                        let child = |c: u32| {
                            let c = c as usize;
                            if c > at {
                                refs.get(c).copied()
                            } else {
                                None
                            }
                        };
                        f.splits.push(FlatSplit {
                            w0,
                            w1,
                            offset,
                            left: child(left)?,
                            right: child(right)?,
                            i0,
                            i1,
                        });
                    }
                    Step::Leaf { c } => f.leaves.push(c),
                    Step::Dense { .. } | Step::Stop => return None,
                }
            }
        }
        Some(f)
    }

    /// Sum of the path lengths of `xs` over the trees, in tree order.
    #[inline]
    fn total_path_length(&self, xs: &[f64; MAX_DIMS]) -> f64 {
        self.roots
            .iter()
            .map(|&root| {
                let mut node = root;
                let mut depth = 0.0;
                while node & FLAT_LEAF == 0 {
                    let Some(s) = self.splits.get(node as usize) else {
                        break;
                    };
                    let (a, b) = (xs[usize::from(s.i0)] * s.w0, xs[usize::from(s.i1)] * s.w1);
                    node = if a + b <= s.offset { s.left } else { s.right };
                    depth += 1.0;
                }
                depth
                    + self
                        .leaves
                        .get((node & !FLAT_LEAF) as usize)
                        .copied()
                        .unwrap_or(0.0)
            })
            .sum()
    }
}

impl Clone for Prepared {
    /// Empty: a clone prepares its own trees (which may be changed first).
    fn clone(&self) -> Self {
        Prepared::default()
    }
}

impl PartialEq for Prepared {
    /// Derived data: forests are equal when their trees are.
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "Prepared"
        } else {
            "Unprepared"
        })
    }
}

/// Dot product over the common prefix of `a` and `b`; fixed summation order
/// (four interleaved accumulators, then the tail) so fit and score agree bit for bit.
#[inline]
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let ca = a.chunks_exact(4);
    let cb = b.chunks_exact(4);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    let mut acc = [0.0f64; 4];
    for (x, y) in ca.zip(cb) {
        acc[0] += x[0] * y[0];
        acc[1] += x[1] * y[1];
        acc[2] += x[2] * y[2];
        acc[3] += x[3] * y[3];
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

/// Uniform in `[0, 1)` from the top 53 bits.
#[inline]
fn unit_f64(rng: &mut ChaCha8Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Standard normal via Box–Muller (one value per pair of uniforms).
#[inline]
fn std_normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1 = 1.0 - unit_f64(rng); // (0, 1]: ln is finite
    let u2 = unit_f64(rng);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Uniform integer in `[0, n)`, `n > 0`, by Lemire's multiply-and-reject (unbiased).
#[inline]
fn below(rng: &mut ChaCha8Rng, n: usize) -> usize {
    let n = n as u64;
    let threshold = n.wrapping_neg() % n;
    loop {
        let m = u128::from(rng.next_u64()) * u128::from(n);
        if (m as u64) >= threshold {
            return (m >> 64) as usize;
        }
    }
}

/// Reusable buffers for growing trees.
struct Grower<'a> {
    rows: &'a [Vec<f64>],
    dims: usize,
    extension_level: usize,
    max_depth: usize,
    rng: ChaCha8Rng,
    normal: Vec<f64>,
    coords: Vec<usize>,
    stack: Vec<(usize, usize, usize, usize)>,
}

impl Grower<'_> {
    /// Draws a normal vector into `self.normal` with `dims − 1 − extension_level` zeros.
    fn draw_normal(&mut self) {
        for v in self.normal.iter_mut() {
            *v = std_normal(&mut self.rng);
        }
        let zeroed = self.dims - 1 - self.extension_level;
        for i in 0..zeroed {
            let j = i + below(&mut self.rng, self.dims - i);
            self.coords.swap(i, j);
            self.normal[self.coords[i]] = 0.0;
        }
    }

    /// Grows one tree over the sample indices in `idx` (reordered in place).
    fn grow(&mut self, idx: &mut [u32]) -> Result<Tree, ModelError> {
        let too_big = || ModelError::BadParams("tree index overflow".to_string());
        let mut nodes = vec![Node::Leaf { size: 0 }];
        let mut normals = Vec::new();
        self.stack.clear();
        self.stack.push((0, 0, idx.len(), 0));
        while let Some((id, start, end, depth)) = self.stack.pop() {
            let size = end - start;
            if depth >= self.max_depth || size <= 1 {
                nodes[id] = Node::Leaf {
                    size: u32::try_from(size).map_err(|_| too_big())?,
                };
                continue;
            }
            self.draw_normal();
            let points = &idx[start..end];
            let mut offset = 0.0;
            for j in 0..self.dims {
                let nj = self.normal[j];
                if nj == 0.0 {
                    continue;
                }
                let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
                for &r in points {
                    let v = self.rows[r as usize][j];
                    lo = lo.min(v);
                    hi = hi.max(v);
                }
                let p = lo + unit_f64(&mut self.rng) * (hi - lo);
                offset += nj * p;
            }
            // Partition: points with normal·x ≤ offset first.
            let (mut i, mut k) = (start, end);
            while i < k {
                if dot(&self.normal, &self.rows[idx[i] as usize]) <= offset {
                    i += 1;
                } else {
                    k -= 1;
                    idx.swap(i, k);
                }
            }
            let slot = normals.len() / self.dims;
            normals.extend_from_slice(&self.normal);
            let left = nodes.len();
            nodes.push(Node::Leaf { size: 0 });
            nodes.push(Node::Leaf { size: 0 });
            nodes[id] = Node::Split {
                left: u32::try_from(left).map_err(|_| too_big())?,
                right: u32::try_from(left + 1).map_err(|_| too_big())?,
                normal: u32::try_from(slot).map_err(|_| too_big())?,
                offset,
            };
            // Right pushed first so the left subtree is grown first (depth-first).
            self.stack.push((left + 1, i, end, depth + 1));
            self.stack.push((left, start, i, depth + 1));
        }
        Ok(Tree { nodes, normals })
    }
}

impl Tree {
    /// `h(x)`: edges to the leaf plus `c(leaf size)`. Never panics, and ends after at
    /// most `nodes.len()` steps even on an unvalidated (cyclic) tree.
    #[inline]
    fn path_length(&self, x: &[f64], dims: usize) -> f64 {
        let mut i = 0usize;
        let mut depth = 0.0;
        for _ in 0..=self.nodes.len() {
            match self.nodes.get(i) {
                Some(Node::Leaf { size }) => return depth + c_leaf(*size as usize),
                Some(Node::Split {
                    left,
                    right,
                    normal,
                    offset,
                }) => {
                    let start = (*normal as usize).saturating_mul(dims);
                    let Some(n) = self.normals.get(start..start.saturating_add(dims)) else {
                        break;
                    };
                    i = if dot(n, x) <= *offset {
                        *left as usize
                    } else {
                        *right as usize
                    };
                    depth += 1.0;
                }
                None => break,
            }
        }
        depth
    }
}

impl Tree {
    /// The tree as [`Step`]s (see [`Prepared`]).
    fn prepare(&self, dims: usize) -> Vec<Step> {
        self.nodes
            .iter()
            .map(|node| match *node {
                Node::Leaf { size } => Step::Leaf {
                    c: c_leaf(size as usize),
                },
                Node::Split {
                    left,
                    right,
                    normal,
                    offset,
                } => {
                    let start = (normal as usize).saturating_mul(dims);
                    let Some(n) = self.normals.get(start..start.saturating_add(dims)) else {
                        return Step::Stop;
                    };
                    // The non-zero coordinates (two at most are kept; a
                    // coordinate past 255 makes the step dense).
                    let mut nz = [(0u8, 0.0f64); 2];
                    let mut count = 0usize;
                    for (i, &w) in n.iter().enumerate() {
                        if w != 0.0 {
                            match (nz.get_mut(count), u8::try_from(i)) {
                                (Some(slot), Ok(i)) => *slot = (i, w),
                                (_, Err(_)) => count = usize::MAX - 1,
                                (None, _) => {}
                            }
                            count = count.saturating_add(1);
                        }
                    }
                    match count {
                        0..=2 => {
                            let [(i0, w0), (i1, w1)] = nz;
                            Step::Sparse {
                                left,
                                right,
                                i0,
                                i1,
                                w0,
                                w1,
                                offset,
                            }
                        }
                        _ => Step::Dense {
                            left,
                            right,
                            start,
                            offset,
                        },
                    }
                }
            })
            .collect()
    }

    /// [`Tree::path_length`] over the prepared `steps` of this tree, for an
    /// `x` of at least `dims` values, all finite (see [`Prepared`]), whose
    /// first `dims` values are also in `xs`.
    #[inline]
    fn prepared_path_length(
        &self,
        steps: &[Step],
        xs: &[f64; MAX_DIMS],
        x: &[f64],
        dims: usize,
    ) -> f64 {
        let mut i = 0usize;
        let mut depth = 0.0;
        // As many steps as `Tree::path_length` takes at most.
        let mut budget = steps.len() + 1;
        while budget > 0 {
            budget -= 1;
            let step = steps.get(i);
            let (left, right, below) = if let Some(&Step::Sparse {
                left,
                right,
                i0,
                i1,
                w0,
                w1,
                offset,
            }) = step
            {
                let (a, b) = (xs[usize::from(i0)] * w0, xs[usize::from(i1)] * w1);
                (left, right, a + b <= offset)
            } else {
                match step {
                    Some(Step::Leaf { c }) => return depth + c,
                    Some(&Step::Dense {
                        left,
                        right,
                        start,
                        offset,
                    }) => {
                        let n = &self.normals[start..start + dims];
                        (left, right, dot(n, x) <= offset)
                    }
                    Some(Step::Sparse { .. } | Step::Stop) | None => break,
                }
            };
            i = if below { left as usize } else { right as usize };
            depth += 1.0;
        }
        depth
    }
}

impl ExtendedIsolationForest {
    /// Sum of the path lengths of `x` over the trees, in tree order.
    fn total_path_length(&self, x: &[f64]) -> f64 {
        let dims = self.dims;
        let finite = dims <= MAX_DIMS && x.len() >= dims && x[..dims].iter().all(|v| v.is_finite());
        if !finite {
            return self.trees.iter().map(|t| t.path_length(x, dims)).sum();
        }
        let prepared = self.prepared.0.get_or_init(|| {
            let steps: Vec<Vec<Step>> = self.trees.iter().map(|t| t.prepare(dims)).collect();
            match Flat::new(&steps) {
                Some(flat) => PreparedTrees::Flat(flat),
                None => PreparedTrees::Steps(steps),
            }
        });
        let mut xs = [0.0; MAX_DIMS];
        xs[..dims].copy_from_slice(&x[..dims]);
        match prepared {
            PreparedTrees::Flat(flat) => flat.total_path_length(&xs),
            PreparedTrees::Steps(steps) => self
                .trees
                .iter()
                .zip(steps)
                .map(|(t, steps)| t.prepared_path_length(steps, &xs, x, dims))
                .sum(),
        }
    }

    /// Fits a forest. `rows` must be the `n_rows × dims` matrix the parameters were
    /// checked for, every value finite.
    pub fn fit(params: &CheckedParams, rows: &[Vec<f64>]) -> Result<Self, ModelError> {
        Self::fit_inner(params, rows, None)
    }

    /// Fits a forest and also returns each training row's **out-of-bag** raw score:
    /// the score over only the trees whose subsample did not contain that row.
    ///
    /// In-sample scores are biased: a training row that is extreme is part of the
    /// bounding boxes of the trees it was drawn into and is isolated there almost
    /// at once, so the top in-sample scores sit above anything a *new* window can
    /// reach. Out-of-bag scores estimate how a new window like that row would score,
    /// which is what calibration needs. Rows that are out of bag in fewer than
    /// `max(10, n_trees/10)` trees (only when ψ is close to the row count) fall back
    /// to the in-sample score.
    pub fn fit_with_oob_scores(
        params: &CheckedParams,
        rows: &[Vec<f64>],
    ) -> Result<(Self, Vec<f64>), ModelError> {
        let mut samples = Vec::new();
        let forest = Self::fit_inner(params, rows, Some(&mut samples))?;
        let n = rows.len();
        let psi = forest.sample_size;
        let mut sum = vec![0.0f64; n];
        let mut count = vec![0usize; n];
        let mut in_bag = vec![false; n];
        for (t, tree) in forest.trees.iter().enumerate() {
            let bag = &samples[t * psi..(t + 1) * psi];
            for &r in bag {
                in_bag[r as usize] = true;
            }
            for (i, row) in rows.iter().enumerate() {
                if !in_bag[i] {
                    sum[i] += tree.path_length(row, forest.dims);
                    count[i] += 1;
                }
            }
            for &r in bag {
                in_bag[r as usize] = false;
            }
        }
        let n_trees = forest.trees.len();
        let min_oob = (n_trees / 10).max(10).min(n_trees);
        let c = c_factor(psi);
        let scores = rows
            .iter()
            .enumerate()
            .map(|(i, row)| {
                if count[i] >= min_oob {
                    (-(sum[i] / count[i] as f64) / c).exp2()
                } else {
                    forest.score(row)
                }
            })
            .collect();
        Ok((forest, scores))
    }

    fn fit_inner(
        params: &CheckedParams,
        rows: &[Vec<f64>],
        mut samples: Option<&mut Vec<u32>>,
    ) -> Result<Self, ModelError> {
        let p = &params.0;
        if rows.len() != p.n_rows {
            return Err(ModelError::BadParams(format!(
                "parameters were checked for {} rows but {} were given",
                p.n_rows,
                rows.len()
            )));
        }
        check_matrix(rows, p.dims)?;
        let mut grower = Grower {
            rows,
            dims: p.dims,
            extension_level: p.extension_level,
            max_depth: p.max_depth,
            rng: ChaCha8Rng::seed_from_u64(p.params.seed),
            normal: vec![0.0; p.dims],
            coords: (0..p.dims).collect(),
            stack: Vec::with_capacity(2 * p.max_depth + 2),
        };
        let n = rows.len();
        // check() guarantees n fits in u32.
        let mut pool: Vec<u32> = (0..n).map(|i| i as u32).collect();
        let mut sample: Vec<u32> = Vec::with_capacity(p.sample_size);
        let mut trees = Vec::with_capacity(p.params.n_trees);
        for _ in 0..p.params.n_trees {
            for i in 0..p.sample_size {
                let j = i + below(&mut grower.rng, n - i);
                pool.swap(i, j);
            }
            sample.clear();
            sample.extend_from_slice(&pool[..p.sample_size]);
            if let Some(all) = samples.as_deref_mut() {
                all.extend_from_slice(&sample);
            }
            trees.push(grower.grow(&mut sample)?);
        }
        Ok(ExtendedIsolationForest {
            dims: p.dims,
            sample_size: p.sample_size,
            extension_level: p.extension_level,
            max_depth: p.max_depth,
            trees,
            prepared: Prepared::default(),
        })
    }

    /// Anomaly score `s(x) = 2^(−E[h(x)]/c(ψ))`, in (0, 1) for a validated forest.
    ///
    /// `x` should have [`dims`](Self::dims) values; missing trailing values count as
    /// 0 and extra ones are ignored. NaN coordinates always go right. Allocation-free.
    pub fn score(&self, x: &[f64]) -> f64 {
        if self.trees.is_empty() {
            return 0.5;
        }
        let total = self.total_path_length(x);
        let mean = total / self.trees.len() as f64;
        (-mean / c_factor(self.sample_size)).exp2()
    }

    /// Mean path length `E[h(x)]` over the trees.
    pub fn mean_path_length(&self, x: &[f64]) -> f64 {
        if self.trees.is_empty() {
            return 0.0;
        }
        self.total_path_length(x) / self.trees.len() as f64
    }

    /// Raw score of a point isolated at the first split of every tree (`E[h] = 1`),
    /// the largest score any input can get: `2^(−1/c(ψ))`.
    pub fn max_isolation_score(&self) -> f64 {
        (-1.0 / c_factor(self.sample_size)).exp2()
    }

    /// Input dimension.
    pub fn dims(&self) -> usize {
        self.dims
    }
    /// Number of trees.
    pub fn n_trees(&self) -> usize {
        self.trees.len()
    }
    /// Effective subsample size ψ.
    pub fn sample_size(&self) -> usize {
        self.sample_size
    }
    /// Resolved extension level.
    pub fn extension_level(&self) -> usize {
        self.extension_level
    }
    /// Resolved depth limit.
    pub fn max_depth(&self) -> usize {
        self.max_depth
    }
    /// Total node count over all trees.
    pub fn n_nodes(&self) -> usize {
        self.trees.iter().map(|t| t.nodes.len()).sum()
    }

    /// Structural check after loading: header fields in range; per tree, node 0 is
    /// the root, every child index is in range and strictly after its parent,
    /// every non-root node has exactly one parent (so it is a tree, no cycles),
    /// depth ≤ `max_depth`, normal vectors in range, finite, with at most
    /// `extension_level + 1` non-zero coordinates, finite offsets, and leaf sizes
    /// summing to ψ.
    pub fn validate(&self) -> Result<(), ModelError> {
        let inv = |m: String| Err(ModelError::Invalid(m));
        if self.dims == 0 || self.dims > MAX_DIMS {
            return inv(format!(
                "forest has {} dimensions (1 to {MAX_DIMS})",
                self.dims
            ));
        }
        if self.sample_size < 2 || self.sample_size > MAX_SAMPLE_SIZE {
            return inv(format!(
                "forest sample size {} (2 to {MAX_SAMPLE_SIZE})",
                self.sample_size
            ));
        }
        if self.extension_level >= self.dims {
            return inv(format!(
                "extension level {} with {} dimensions",
                self.extension_level, self.dims
            ));
        }
        if self.max_depth == 0 || self.max_depth > MAX_DEPTH {
            return inv(format!("max depth {} (1 to {MAX_DEPTH})", self.max_depth));
        }
        if self.trees.is_empty() || self.trees.len() > MAX_TREES {
            return inv(format!("{} trees (1 to {MAX_TREES})", self.trees.len()));
        }
        let dims = self.dims;
        let mut depth: Vec<u8> = Vec::new();
        let mut seen: Vec<bool> = Vec::new();
        for (t, tree) in self.trees.iter().enumerate() {
            let len = tree.nodes.len();
            if len == 0 {
                return inv(format!("tree {t} has no nodes"));
            }
            if tree.normals.len() % dims != 0 {
                return inv(format!(
                    "tree {t}: {} normal values is not a multiple of {dims} dimensions",
                    tree.normals.len()
                ));
            }
            depth.clear();
            depth.resize(len, 0);
            seen.clear();
            seen.resize(len, false);
            seen[0] = true;
            let mut leaf_total: u64 = 0;
            for (i, node) in tree.nodes.iter().enumerate() {
                if !seen[i] {
                    return inv(format!("tree {t} node {i} is not reachable from the root"));
                }
                match *node {
                    Node::Leaf { size } => {
                        if size as usize > self.sample_size {
                            return inv(format!(
                                "tree {t} leaf {i} holds {size} points, more than the sample size {}",
                                self.sample_size
                            ));
                        }
                        leaf_total += u64::from(size);
                    }
                    Node::Split {
                        left,
                        right,
                        normal,
                        offset,
                    } => {
                        for (side, c) in [("left", left as usize), ("right", right as usize)] {
                            if c <= i {
                                return inv(format!(
                                    "tree {t} node {i}: {side} child index {c} does not come after the node"
                                ));
                            }
                            if c >= len {
                                return inv(format!(
                                    "tree {t} node {i}: {side} child index {c} out of range ({len} nodes)"
                                ));
                            }
                            if seen[c] {
                                return inv(format!("tree {t} node {c} has more than one parent"));
                            }
                            seen[c] = true;
                            let d = depth[i] as usize + 1;
                            if d > self.max_depth {
                                return inv(format!(
                                    "tree {t} node {c} at depth {d}, beyond the max depth {}",
                                    self.max_depth
                                ));
                            }
                            depth[c] = d as u8; // d ≤ MAX_DEPTH = 64
                        }
                        let start = (normal as usize).saturating_mul(dims);
                        let Some(n) = tree.normals.get(start..start.saturating_add(dims)) else {
                            return inv(format!(
                                "tree {t} node {i}: normal vector #{normal} out of range ({} stored)",
                                tree.normals.len() / dims
                            ));
                        };
                        if let Some(bad) = n.iter().find(|v| !v.is_finite()) {
                            return inv(format!(
                                "tree {t} node {i}: non-finite normal coordinate {bad}"
                            ));
                        }
                        let nonzero = n.iter().filter(|v| **v != 0.0).count();
                        if nonzero > self.extension_level + 1 {
                            return inv(format!(
                                "tree {t} node {i}: normal has {nonzero} non-zero coordinates, extension level {} allows {}",
                                self.extension_level,
                                self.extension_level + 1
                            ));
                        }
                        if !offset.is_finite() {
                            return inv(format!("tree {t} node {i}: non-finite offset {offset}"));
                        }
                    }
                }
            }
            if leaf_total != self.sample_size as u64 {
                return inv(format!(
                    "tree {t}: leaves hold {leaf_total} points, expected the sample size {}",
                    self.sample_size
                ));
            }
        }
        Ok(())
    }
}

/// Checks that `rows` is a non-ragged matrix of `dims` finite columns.
pub(crate) fn check_matrix(rows: &[Vec<f64>], dims: usize) -> Result<(), ModelError> {
    for (r, row) in rows.iter().enumerate() {
        if row.len() != dims {
            return Err(ModelError::BadData(format!(
                "row {r} has {} values, expected {dims}",
                row.len()
            )));
        }
        if let Some((c, v)) = row.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(ModelError::BadData(format!(
                "row {r}, column {c} is {v}; all values must be finite"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Seeded standard-normal generator for test data.
    pub(crate) struct Gauss(ChaCha8Rng);
    impl Gauss {
        pub(crate) fn new(seed: u64) -> Self {
            Gauss(ChaCha8Rng::seed_from_u64(seed))
        }
        pub(crate) fn next(&mut self) -> f64 {
            std_normal(&mut self.0)
        }
    }

    /// ROC-AUC of "outlier scores above inlier scores" (Mann–Whitney, ties = ½).
    pub(crate) fn auc(inl: &[f64], out: &[f64]) -> f64 {
        let mut wins = 0.0;
        for o in out {
            for i in inl {
                if o > i {
                    wins += 1.0;
                } else if o == i {
                    wins += 0.5;
                }
            }
        }
        wins / (inl.len() * out.len()) as f64
    }

    /// `n` inliers from N(0, I) plus `k` outliers on a shell of radius `r`.
    fn blobs(dims: usize, n: usize, k: usize, r: f64, seed: u64) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
        let mut g = Gauss::new(seed);
        let inl: Vec<Vec<f64>> = (0..n)
            .map(|_| (0..dims).map(|_| g.next()).collect())
            .collect();
        let out: Vec<Vec<f64>> = (0..k)
            .map(|_| {
                let v: Vec<f64> = (0..dims).map(|_| g.next()).collect();
                let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
                v.iter().map(|x| x / norm * r).collect()
            })
            .collect();
        (inl, out)
    }

    fn fit(rows: &[Vec<f64>], p: ForestParams) -> ExtendedIsolationForest {
        let c = p.check(rows[0].len(), rows.len()).unwrap();
        ExtendedIsolationForest::fit(&c, rows).unwrap()
    }

    #[test]
    fn c_factor_values() {
        assert_eq!(c_factor(0), 0.0);
        assert_eq!(c_factor(1), 0.0);
        assert_eq!(c_factor(2), 1.0);
        assert!((c_factor(256) - 10.2448).abs() < 1e-3, "{}", c_factor(256));
        for n in 2..1000 {
            assert!(c_factor(n + 1) > c_factor(n));
        }
    }

    #[test]
    fn c_leaf_matches_c_factor() {
        for n in 0..1000 {
            assert_eq!(c_leaf(n).to_bits(), c_factor(n).to_bits());
        }
    }

    #[test]
    fn ceil_log2_values() {
        assert_eq!(ceil_log2(2), 1);
        assert_eq!(ceil_log2(3), 2);
        assert_eq!(ceil_log2(256), 8);
        assert_eq!(ceil_log2(257), 9);
    }

    #[test]
    fn below_is_in_range_and_covers() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut hit = [0u32; 7];
        for _ in 0..7000 {
            hit[below(&mut rng, 7)] += 1;
        }
        assert!(hit.iter().all(|&h| h > 800 && h < 1200), "{hit:?}");
    }

    #[test]
    fn check_resolves_and_rejects() {
        let p = ForestParams::default();
        let c = p.check(5, 100).unwrap();
        assert_eq!(c.sample_size(), 100);
        assert_eq!(c.extension_level(), 4);
        assert_eq!(c.max_depth(), 7);
        let c = p.check(5, 10_000).unwrap();
        assert_eq!((c.sample_size(), c.max_depth()), (256, 8));
        let bad = |p: ForestParams, d, n| p.check(d, n).unwrap_err().to_string();
        let s = bad(
            ForestParams {
                extension_level: Some(5),
                ..p.clone()
            },
            5,
            100,
        );
        assert!(
            s.contains("extension_level = 5") && s.contains("at most 4"),
            "{s}"
        );
        assert!(bad(
            ForestParams {
                n_trees: 0,
                ..p.clone()
            },
            5,
            100
        )
        .contains("n_trees = 0"));
        assert!(bad(
            ForestParams {
                sample_size: 1,
                ..p.clone()
            },
            5,
            100
        )
        .contains("sample_size = 1"));
        assert!(bad(
            ForestParams {
                max_depth: Some(0),
                ..p.clone()
            },
            5,
            100
        )
        .contains("max_depth = 0"));
        assert!(bad(p.clone(), 0, 100).contains("0 input dimensions"));
        assert!(matches!(p.check(3, 1), Err(ModelError::BadData(_))));
    }

    #[test]
    fn fit_rejects_ragged_and_non_finite() {
        let p = ForestParams::default().check(2, 3).unwrap();
        let e = ExtendedIsolationForest::fit(&p, &[vec![0.0, 1.0], vec![1.0], vec![2.0, 2.0]]);
        assert!(e
            .unwrap_err()
            .to_string()
            .contains("row 1 has 1 values, expected 2"));
        let e = ExtendedIsolationForest::fit(
            &p,
            &[vec![0.0, 1.0], vec![1.0, f64::NAN], vec![2.0, 2.0]],
        );
        assert!(e
            .unwrap_err()
            .to_string()
            .contains("row 1, column 1 is NaN"));
        let e = ExtendedIsolationForest::fit(&p, &[vec![0.0, 1.0], vec![1.0, 1.0]]);
        assert!(matches!(e, Err(ModelError::BadParams(_))));
    }

    #[test]
    fn deterministic_per_seed() {
        let (rows, _) = blobs(6, 600, 0, 0.0, 3);
        let enc = |f: &ExtendedIsolationForest| {
            bincode::serde::encode_to_vec(f, bincode::config::standard()).unwrap()
        };
        let p = ForestParams {
            n_trees: 50,
            seed: 7,
            ..Default::default()
        };
        let a = enc(&fit(&rows, p.clone()));
        let b = enc(&fit(&rows, p.clone()));
        assert_eq!(a, b);
        let c = enc(&fit(&rows, ForestParams { seed: 8, ..p }));
        assert_ne!(a, c);
    }

    #[test]
    fn structure_is_valid_and_scores_in_open_unit_interval() {
        let (rows, out) = blobs(4, 500, 20, 8.0, 4);
        for ext in [None, Some(0), Some(1)] {
            let f = fit(
                &rows,
                ForestParams {
                    n_trees: 40,
                    extension_level: ext,
                    ..Default::default()
                },
            );
            f.validate().unwrap();
            assert_eq!(f.n_trees(), 40);
            for x in rows.iter().chain(out.iter()) {
                let s = f.score(x);
                assert!(s > 0.0 && s < 1.0, "{s}");
                assert!(s <= f.max_isolation_score());
            }
            let far = f.score(&[1e300, -1e300, 1e300, 0.0]);
            // A novel point far outside the data scores like the most extreme
            // training points (intercepts are drawn inside the data's box).
            let centre = f.score(&[0.0; 4]);
            assert!(
                far > 0.6 && far < 1.0 && far > centre + 0.15,
                "{far} vs {centre}"
            );
            let nan = f.score(&[f64::NAN; 4]);
            assert!(nan > 0.0 && nan < 1.0);
        }
    }

    #[test]
    fn identical_points_terminate_at_max_depth() {
        let rows = vec![vec![1.0, 1.0]; 50];
        let f = fit(&rows, ForestParams::default());
        f.validate().unwrap();
        let s = f.score(&[1.0, 1.0]);
        assert!(s > 0.0 && s < 0.5, "{s}");
    }

    fn quality(dims: usize, ext: Option<usize>) -> f64 {
        let (rows, out) = blobs(dims, 2000, 40, if dims == 2 { 5.0 } else { 9.0 }, 11);
        let f = fit(
            &rows,
            ForestParams {
                extension_level: ext,
                seed: 99,
                ..Default::default()
            },
        );
        let (test_in, _) = blobs(dims, 400, 0, 0.0, 12);
        let si: Vec<f64> = test_in.iter().map(|x| f.score(x)).collect();
        let so: Vec<f64> = out.iter().map(|x| f.score(x)).collect();
        auc(&si, &so)
    }

    #[test]
    fn auc_2d_eif_and_classic() {
        for ext in [None, Some(0)] {
            let a = quality(2, ext);
            assert!(a >= 0.95, "2-D ext {ext:?}: AUC {a}");
        }
    }

    #[test]
    fn auc_20d_eif_and_classic() {
        for ext in [None, Some(0)] {
            let a = quality(20, ext);
            assert!(a >= 0.95, "20-D ext {ext:?}: AUC {a}");
        }
    }

    /// The EIF paper's motivating artifact: on a round 2-D blob, axis-parallel cuts
    /// leave "ghost" bands along the axes, so outside the data a point on an axis
    /// scores lower than a point at the same radius on a diagonal, and scores
    /// along a circle swing with the angle. The fully extended forest's score
    /// map is close to rotation-invariant.
    #[test]
    fn eif_has_fewer_axis_artifacts_than_classic() {
        let (rows, _) = blobs(2, 2000, 0, 0.0, 21);
        // (angular standard deviation, diagonal minus axis mean score) at radius r
        let ring = |f: &ExtendedIsolationForest, r: f64| {
            let s: Vec<f64> = (0..360)
                .map(|d| {
                    let a = f64::from(d).to_radians();
                    f.score(&[r * a.cos(), r * a.sin()])
                })
                .collect();
            let m = s.iter().sum::<f64>() / 360.0;
            let sd = (s.iter().map(|x| (x - m).powi(2)).sum::<f64>() / 360.0).sqrt();
            let axis = (s[0] + s[90] + s[180] + s[270]) / 4.0;
            let diag = (s[45] + s[135] + s[225] + s[315]) / 4.0;
            (sd, diag - axis)
        };
        let forest = |ext| {
            fit(
                &rows,
                ForestParams {
                    extension_level: Some(ext),
                    seed: 5,
                    ..Default::default()
                },
            )
        };
        let (classic, eif) = (forest(0), forest(1));
        for r in [4.0, 6.0] {
            let (sd_c, gap_c) = ring(&classic, r);
            let (sd_e, gap_e) = ring(&eif, r);
            assert!(
                sd_e < 0.6 * sd_c,
                "r={r}: angular sd EIF {sd_e:.4} vs classic {sd_c:.4}"
            );
            assert!(
                gap_c > 0.05 && gap_e.abs() < 0.5 * gap_c,
                "r={r}: diagonal-axis gap EIF {gap_e:.4} vs classic {gap_c:.4}"
            );
        }
    }

    #[test]
    fn prepared_scoring_matches_the_stored_trees_bit_for_bit() {
        let dims = 6;
        let (mut rows, out) = blobs(dims, 400, 40, 4.0, 11);
        rows.extend(out);
        let mut g = Gauss::new(5);
        for ext in [0, 1, 2, dims - 1] {
            let f = fit(
                &rows,
                ForestParams {
                    n_trees: 60,
                    extension_level: Some(ext),
                    seed: ext as u64,
                    ..Default::default()
                },
            );
            let reference =
                |x: &[f64]| -> f64 { f.trees.iter().map(|t| t.path_length(x, dims)).sum() };
            let mut points: Vec<Vec<f64>> = rows.iter().take(200).cloned().collect();
            for k in 0..3000usize {
                let scale = 10f64.powi((k % 7) as i32 - 3);
                points.push(
                    (0..dims)
                        .map(|j| match (k + 3 * j) % 11 {
                            0 => 0.0,
                            1 => -0.0,
                            2 => f64::MIN_POSITIVE / 4.0,
                            _ => g.next() * scale,
                        })
                        .collect(),
                );
            }
            // Not finite, short and long inputs take the stored walk.
            points.push(vec![f64::NAN; dims]);
            points.push(vec![f64::INFINITY, 0.0, 0.0, 0.0, 0.0, 0.0]);
            points.push(vec![0.5; dims - 2]);
            points.push(vec![0.5; dims + 3]);
            for x in &points {
                assert_eq!(
                    f.total_path_length(x).to_bits(),
                    reference(x).to_bits(),
                    "ext {ext}: {x:?}"
                );
            }
            // Extension levels 0 and 1 have only sparse splits: the flat
            // walk; the others the per-tree steps.
            let flat = matches!(f.prepared.0.get().unwrap(), PreparedTrees::Flat(_));
            assert_eq!(flat, ext <= 1, "ext {ext}");
        }
    }

    #[test]
    fn flat_forest_refuses_what_could_loop_or_leave_its_tree() {
        let split = |left: u32, right: u32| Step::Sparse {
            left,
            right,
            i0: 0,
            i1: 1,
            w0: 1.0,
            w1: 0.5,
            offset: 0.25,
        };
        let leaf = |c: f64| Step::Leaf { c };
        // A root split over two leaves, and a tree that is one leaf.
        let good = vec![vec![split(1, 2), leaf(1.5), leaf(2.5)], vec![leaf(4.0)]];
        let flat = Flat::new(&good).expect("a well-formed sparse forest is flattened");
        let mut xs = [0.0; MAX_DIMS];
        xs[0] = 1.0; // 1.0 > 0.25: right, depth 1 + 2.5; then 4.0
        assert_eq!(flat.total_path_length(&xs), 3.5 + 4.0);
        xs[0] = 0.0; // left: 1 + 1.5
        assert_eq!(flat.total_path_length(&xs), 2.5 + 4.0);
        for bad in [
            vec![vec![split(0, 1), leaf(1.0)]], // points at itself
            vec![vec![leaf(1.0), split(0, 0)]], // points back
            vec![vec![split(1, 7), leaf(1.0)]], // past its tree
            vec![vec![split(1, 2), leaf(1.0)]], // past its tree, by one
            vec![vec![Step::Stop]],             // a broken normal
            vec![vec![]],                       // no root
        ] {
            assert!(Flat::new(&bad).is_none());
        }
    }

    fn small() -> ExtendedIsolationForest {
        let (rows, _) = blobs(3, 200, 0, 0.0, 31);
        fit(
            &rows,
            ForestParams {
                n_trees: 5,
                ..Default::default()
            },
        )
    }

    fn first_split(f: &mut ExtendedIsolationForest) -> &mut Node {
        &mut f.trees[0].nodes[0]
    }

    #[test]
    fn validate_catches_structural_damage() {
        let expect = |f: &ExtendedIsolationForest, what: &str| {
            let e = f.validate().unwrap_err();
            assert!(matches!(e, ModelError::Invalid(_)));
            assert!(e.to_string().contains(what), "{e} !~ {what}");
            // scoring a damaged forest must still terminate without panicking
            let _ = f.score(&[0.0, 0.0, 0.0]);
        };
        let mut f = small();
        if let Node::Split { left, .. } = first_split(&mut f) {
            *left = 0;
        }
        expect(&f, "does not come after");

        let mut f = small();
        if let Node::Split { right, .. } = first_split(&mut f) {
            *right = 1_000_000;
        }
        expect(&f, "out of range");

        let mut f = small();
        if let Node::Split { normal, .. } = first_split(&mut f) {
            *normal = 99_999;
        }
        expect(&f, "normal vector #99999 out of range");

        let mut f = small();
        f.trees[1].normals[0] = f64::NAN;
        expect(&f, "non-finite normal");

        let mut f = small();
        if let Node::Split { offset, .. } = first_split(&mut f) {
            *offset = f64::INFINITY;
        }
        expect(&f, "non-finite offset");

        let mut f = small();
        let n = f.trees[0].nodes.len();
        f.trees[0].nodes.push(Node::Leaf { size: 0 });
        expect(&f, &format!("node {n} is not reachable"));

        let mut f = small();
        f.max_depth = 2;
        expect(&f, "beyond the max depth 2");

        let mut f = small();
        let leaf = f.trees[2]
            .nodes
            .iter_mut()
            .find_map(|n| match n {
                Node::Leaf { size } if *size > 0 => Some(size),
                _ => None,
            })
            .unwrap();
        *leaf -= 1;
        expect(&f, "leaves hold");

        let mut f = small();
        f.extension_level = 0;
        expect(&f, "non-zero coordinates");

        let mut f = small();
        f.trees.clear();
        assert!(f.validate().is_err());
        assert_eq!(f.score(&[0.0; 3]), 0.5);
    }

    #[test]
    fn cyclic_tree_scoring_terminates() {
        let mut f = small();
        let len = f.trees[0].nodes.len() as u32;
        for n in f.trees[0].nodes.iter_mut() {
            if let Node::Split { left, right, .. } = n {
                *left = 0;
                *right = len - 1 + 10;
            }
        }
        let s = f.score(&[0.0, 0.0, 0.0]);
        assert!(s.is_finite());
    }
}
