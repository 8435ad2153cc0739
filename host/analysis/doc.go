// Package analysis is valuescope's residual analysis: contingency tables of
// an annotation field (values, labels) against a context (another field, a
// response type, the dataset, any conversation metadata such as model or
// language), their expected counts, adjusted Pearson residuals, chi-square
// test and Cramér's V, significance under a stated multiple-testing
// correction, the top positive and negative associations of each context,
// and the privacy floor that keeps small cells out of every report.
//
// # Residuals
//
// For a table of counts O with row sums r_i, column sums c_j and total n,
// E_ij = r_i c_j / n and the adjusted (standardised) Pearson residual is
//
//	r_ij = (O_ij − E_ij) / sqrt(E_ij (1 − r_i/n) (1 − c_j/n))
//
// computed in the same order of operations as R's chisq.test(x)$stdres, which
// it equals to 1e-9 (tested against R). Its two-sided p-value is
// 2 Φ(−|r_ij|).
//
// # Empty rows and columns
//
// A row or column whose counts are all zero has no expected counts. R gives
// NaN residuals there and a NaN statistic for the whole table. Here such a
// row or column is left out of the test, as if it were not in the table: its
// residuals are NaN (written "NA" in CSV), it is not a test in any family, and
// the chi-square statistic, its degrees of freedom (R'−1)(C'−1) and Cramér's V
// are those of the table without it — which is what chisq.test gives on the
// table with the empty rows and columns removed. A table with fewer than two
// non-empty rows or columns has NaN residuals everywhere (the variance
// 1 − r_i/n is zero) and zero degrees of freedom.
//
// # Significance
//
// Each cell is one test. Tests are grouped into families, by default one
// family per context (column) — the paper's setting, where each context tests
// each of its 3,307 values — or the whole table as one family. A correction
// (Bonferroni, Holm, Benjamini–Hochberg, or none) adjusts p-values over a
// stated number of tests m: by default the size of the family (the cells with
// a defined residual); a larger m may be stated, as p.adjust(p, n = m) does,
// the missing tests counting as p = 1. A cell is significant when its adjusted
// p-value is at most alpha. For Bonferroni this is |r| ≥ qnorm(1 − α/(2m)):
// the paper's 4.33 is m = 3,307, α = 0.05. Adjusted p-values equal R's
// p.adjust over the family, zero cells included.
//
// # Small expected counts: the exact method and the Monte Carlo p-value
//
// A run's tables are full of cells of expected count 0.5–3, where the
// residual is far from normal: on tables independent by construction the
// normal p-values flag cells in nearly every context (nullsim_test.go). So
// the per-cell test (Options.Method) is by default Fisher's exact test of
// the cell against the rest of its row and column, as R's fisher.test
// computes it (see Exact and DefaultMethod for what was measured); the
// normal approximation is Normal. Under Exact a zero cell is not tested
// and never significant, yet counts in its family's m as p = 1, so m is
// the same under both methods. Each table says how many of its tested
// cells have expected counts under 5 and under 1 (Summary.SmallExpected),
// and warns where R's chisq.test warns. For the whole table, a Monte Carlo
// p-value of the chi-square statistic over random tables with the observed
// margins (Options.MonteCarlo, seeded) is R's
// chisq.test(simulate.p.value = TRUE).
//
// # Sparse tables
//
// A Table stores only its non-zero cells. Zero cells are never materialised:
// their residual depends only on their row and column sums, and within a
// column the zero cells of equal row sum share one p-value, so every family
// is adjusted exactly with one entry per non-zero cell plus one per distinct
// row sum per column. Memory grows with the non-zero cells (plus the number
// of distinct row sums times columns), never with rows × columns.
//
// # Privacy floor
//
// No value, context or cell is reported when it rests on fewer than a
// configured number of distinct conversations, or — where the data has a
// user field (user, user_id, hashed_ip...) — of distinct users. The test
// itself runs on the whole table, so what is reported is unchanged by what
// is suppressed; what was suppressed is counted (rows, columns, cells, the
// conversations in them and the significant associations hidden) and
// said.
//
// Hiding the small cells is not enough: every reported row's and column's
// total is published (in the report's value_counts, and as E·n/c_j from any
// shown cell's expected value), so a row with a single blank gives its
// count away by subtraction. Complementary (secondary) suppression hides
// further cells, the smallest first, until no hidden count under the floor
// follows from the shown cells and the margins by any linear combination,
// even for an attacker who knows which cells are zero: linked cell
// suppression (Cox 1980, "Suppression methodology and statistical
// disclosure control", JASA 75; Hundepool et al., Statistical Disclosure
// Control, Wiley 2012, ch. 4), implemented by privacy.Complement; see
// suppress.go for what is assumed published. The margins themselves are
// published unrounded: they rest on at least the floor. Zero cells rest on
// no conversation but are not published either when the floor is on
// (their residuals would mark exactly the blanks that hide counts of 1 up
// to the floor); with the floor off every cell's residual is written.
package analysis
