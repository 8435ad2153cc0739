package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/valuescope/valuescope/host/analysis"
	"github.com/valuescope/valuescope/host/model"
	"github.com/valuescope/valuescope/host/runfolder"
	"github.com/valuescope/valuescope/host/store"
	"github.com/valuescope/valuescope/host/taxonomy"
	"github.com/valuescope/valuescope/host/taxonomy/embed"
	"github.com/valuescope/valuescope/host/taxonomy/pluginnamer"
	"github.com/valuescope/valuescope/internal/atomicfile"
)

func init() { commands = append(commands, newTaxonomyCmd) }

func newTaxonomyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "taxonomy",
		Short: "Build a hierarchical taxonomy of values, assign values to a reference tree, compare trees",
		Long: "Trees are read and written in the CSV layout of the \"Values in the Wild\" paper's\n" +
			"values_tree.csv (cluster_id,description,name,level,parent_cluster_id,pct_total_occurrences;\n" +
			"level 0 rows are the values), or as JSON when the file name ends in .json.",
	}
	cmd.AddCommand(newTaxonomyBuildCmd(), newTaxonomyAssignCmd(), newTaxonomyCompareCmd())
	return cmd
}

// valueSource reads values from a run folder or a --values CSV.
type valueSource struct {
	values string
	field  string
}

func (s *valueSource) flags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&s.values, "values", "", "read values from a CSV with columns value,count (or the paper's value,pct_convos) instead of a run")
	cmd.Flags().StringVar(&s.field, "field", "ai_values", "the run's annotation field holding the values (ai_values, human_values)")
}

func (s *valueSource) read(ctx context.Context, cmd *cobra.Command, a []string) ([]taxonomy.Value, error) {
	switch {
	case s.values != "" && len(a) > 0:
		return nil, usage("give a RUN folder or --values FILE.csv, not both")
	case s.values != "":
		vals, bad, err := taxonomy.ReadValuesCSV(s.values)
		if err != nil {
			return nil, err
		}
		for i, b := range bad {
			if i == 10 {
				fmt.Fprintf(cmd.ErrOrStderr(), "... and %d more\n", len(bad)-10)
				break
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "%s:%d: set aside: %s\n", s.values, b.Line, b.Reason)
		}
		if len(bad) > 0 {
			fmt.Fprintf(cmd.ErrOrStderr(), "%d rows of %s set aside\n", len(bad), s.values)
		}
		return vals, nil
	case len(a) == 1:
		return taxonomy.ReadRun(ctx, a[0], s.field)
	}
	return nil, usage("give a RUN folder or --values FILE.csv")
}

// modelFlags choose models of a run config for embedding and naming.
type modelFlags struct {
	config, embedModel, nameModel string
	offline, reaskNames           bool

	reasking *store.Store // the store of a reask of the names under way
}

func (m *modelFlags) flags(cmd *cobra.Command, naming bool) {
	f := cmd.Flags()
	f.StringVar(&m.config, "config", "", "run config whose [models] to use (default: RUN/config.toml)")
	f.StringVar(&m.embedModel, "embed-model", "", "embed with this model's embeddings endpoint (a [models] name) instead of offline")
	if naming {
		f.StringVar(&m.nameModel, "name-model", "", "name clusters with this model (a [models] name) through the namer plugin (--name-plugin; default "+pluginnamer.DefaultPlugin+": contrastively)")
		f.BoolVar(&m.reaskNames, "reask-names", false, "ask --name-model again for every cluster's name, replacing the answers the run's store cached")
	}
	f.BoolVar(&m.offline, "offline", false, "answer model calls from the run's cache only")
}

// open returns callers for the chosen models (nil when none), with the run's
// store as their cache; close releases them.
func (m *modelFlags) open(cmd *cobra.Command, run []string) (embedder, namer *model.Caller, close func(), err error) {
	close = func() {}
	if m.reaskNames && (m.nameModel == "" || len(run) == 0 || m.offline) {
		return nil, nil, close, usage("--reask-names asks --name-model again for the names a RUN folder's store cached (not with --offline)")
	}
	if m.embedModel == "" && m.nameModel == "" {
		return nil, nil, close, nil
	}
	path := m.config
	if path == "" {
		if len(run) == 0 {
			return nil, nil, close, usage("--embed-model and --name-model need --config (or a RUN folder)")
		}
		path = runfolder.Folder(run[0]).Config()
	}
	cfg, err := loadConfig(path)
	if err != nil {
		return nil, nil, close, err
	}
	opts := model.Options{Offline: m.offline, Log: slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))}
	var st *store.Store
	if len(run) > 0 {
		f, err := runfolder.Existing(run[0])
		if err != nil {
			return nil, nil, close, err
		}
		if st, err = store.Open(f.Store()); err != nil {
			return nil, nil, close, err
		}
		opts.Cache = st
	}
	client, err := model.Open(cfg.Models, opts)
	if err != nil {
		if st != nil {
			st.Close()
		}
		return nil, nil, close, err
	}
	close = func() {
		client.Close()
		if st != nil {
			st.Close()
		}
	}
	if m.embedModel != "" {
		if embedder, err = client.ForStage("taxonomy", m.embedModel); err != nil {
			close()
			return nil, nil, func() {}, usage("--embed-model: %v", err)
		}
	}
	if m.nameModel != "" {
		if namer, err = client.ForStage("taxonomy", m.nameModel); err != nil {
			close()
			return nil, nil, func() {}, usage("--name-model: %v", err)
		}
		if namer, err = m.reask(cmd.Context(), st, namer); err != nil {
			close()
			return nil, nil, func() {}, err
		}
	}
	return embedder, namer, close, nil
}

// namesReask is the store's name for a reask of the cluster names: the
// namer's calls are the "taxonomy" stage's (ForStage).
const namesReask = "taxonomy"

// reask makes namer ask again (model.Caller.Reask) with --reask-names, or
// when an earlier build with it was interrupted: the reask lasts until a
// build finishes (finishReask), so that a build run again after an
// interruption asks no cluster's call twice.
func (m *modelFlags) reask(ctx context.Context, st *store.Store, namer *model.Caller) (*model.Caller, error) {
	if st == nil || m.offline {
		return namer, nil
	}
	pending, err := st.Reasks(ctx)
	if err != nil {
		return nil, err
	}
	if !m.reaskNames && !slices.Contains(pending, namesReask) {
		return namer, nil
	}
	if _, err := st.StartReask(ctx, namesReask, nil); err != nil {
		return nil, err
	}
	m.reasking = st
	return namer.Reask(), nil
}

// finishReask ends a reask of the names once the tree is written.
func (m *modelFlags) finishReask(ctx context.Context) error {
	if m.reasking == nil {
		return nil
	}
	return m.reasking.FinishReask(ctx, namesReask)
}

func embedder(vectors string) (taxonomy.Embedder, error) {
	if vectors == "" {
		return embed.NewOffline()
	}
	v, err := embed.ReadFile(vectors)
	if err != nil {
		return nil, err
	}
	return &embed.Offline{V: v}, nil
}

// treeFlags put a field's values on one level of a taxonomy tree, for the
// commands that count values (analyze, compare): --tree, --tree-level,
// --tree-field, --threshold and --vectors.
type treeFlags struct {
	path, field, vectors string
	level                int
	threshold            float64
}

func (t *treeFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&t.path, "tree", "", "count values on a taxonomy: a tree in the paper's values_tree.csv layout (the paper's, or one from taxonomy build), or JSON")
	f.IntVar(&t.level, "tree-level", 1, "level of --tree to count on: 0 the tree's values, 1 its finest clusters, up to its top level")
	f.StringVar(&t.field, "tree-field", taxonomy.DefaultField, "the field placed on --tree (other fields keep their normalised names)")
	f.Float64Var(&t.threshold, "threshold", taxonomy.DefaultThreshold, "with --tree: cosine similarity to the nearest tree value under which a value is left unplaced")
	f.StringVar(&t.vectors, "vectors", "", "with --tree: word vectors in GloVe or word2vec text format instead of the built-in ones")
}

// treeMapping is what --tree did: the tree and level, and how each run's
// values were placed.
type treeMapping struct {
	Tree      string    `json:"tree"`
	Level     int       `json:"level"`
	Nodes     int       `json:"nodes"`
	Field     string    `json:"field"`
	Threshold float64   `json:"threshold"`
	Runs      []treeRun `json:"runs"`

	tree *taxonomy.Tree
}

// treeRun is one run's values placed on the tree.
type treeRun struct {
	Dir     string                 `json:"dir"`
	Summary taxonomy.AssignSummary `json:"summary"`

	assignments []taxonomy.Assignment
}

// mapper returns the mapper --tree asks for, with the distinct values of
// each run placed, or nil (normalised names) without --tree.
func (t *treeFlags) mapper(cmd *cobra.Command, runs []string) (*taxonomy.Mapper, *treeMapping, error) {
	if t.path == "" {
		for _, n := range []string{"tree-level", "tree-field", "threshold", "vectors"} {
			if cmd.Flags().Changed(n) {
				return nil, nil, usage("--%s needs --tree TREE.csv", n)
			}
		}
		return nil, nil, nil
	}
	if t.threshold < -1 || t.threshold > 1 {
		return nil, nil, usage("--threshold %v: a cosine similarity, between -1 and 1", t.threshold)
	}
	tree, err := taxonomy.ReadFile(t.path)
	if err != nil {
		return nil, nil, err
	}
	if t.level < 0 || t.level > tree.Depth() {
		return nil, nil, usage("--tree-level %d: %s has levels 0 (its values) to %d", t.level, t.path, tree.Depth())
	}
	e, err := embedder(t.vectors)
	if err != nil {
		return nil, nil, err
	}
	m, err := taxonomy.NewMapper(tree, t.field, t.level, e, t.threshold)
	if err != nil {
		return nil, nil, fmt.Errorf("--tree %s: %w", t.path, err)
	}
	tm := &treeMapping{Tree: t.path, Level: t.level, Nodes: m.Nodes(), Field: m.Field(), Threshold: t.threshold, tree: tree}
	for _, dir := range runs {
		vals, err := taxonomy.ReadRun(cmd.Context(), dir, m.Field())
		if err != nil {
			return nil, nil, fmt.Errorf("--tree: %w", err)
		}
		as, sum, err := m.Prepare(cmd.Context(), vals)
		if err != nil {
			return nil, nil, fmt.Errorf("--tree: placing the values of %s: %w", dir, err)
		}
		tm.Runs = append(tm.Runs, treeRun{Dir: dir, Summary: sum, assignments: as})
	}
	return m, tm, nil
}

// write says which tree and level the values are counted on, and how many
// of each run's were placed.
func (tm *treeMapping) write(w io.Writer) {
	fmt.Fprintf(w, "taxonomy: %s, level %d (%d nodes), for %s (other fields: normalised names)\n", tm.Tree, tm.Level, tm.Nodes, tm.Field)
	for _, r := range tm.Runs {
		fmt.Fprintf(w, "  %s: %s\n", r.Dir, assignLine(r.Summary))
	}
}

// assignLine says how values were placed on a tree.
func assignLine(s taxonomy.AssignSummary) string {
	return fmt.Sprintf("%d values: %d assigned (%d by name), %d unassigned under similarity %.2f; %.1f%% of occurrences assigned",
		s.Values, s.Assigned, s.Exact, s.Unassigned, s.Threshold, 100*s.CountAssigned)
}

// writeFiles writes taxonomy.json (the mapping) and, for one run,
// assignments.csv (each value's leaf and clusters) into dir.
func (tm *treeMapping) writeFiles(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	files := map[string]func(io.Writer) error{
		"taxonomy.json": func(w io.Writer) error {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(tm)
		},
	}
	if len(tm.Runs) == 1 {
		files["assignments.csv"] = func(w io.Writer) error { return taxonomy.WriteAssignmentsCSV(w, tm.tree, tm.Runs[0].assignments) }
	}
	var out []string
	for name, write := range files {
		p := filepath.Join(dir, name)
		if err := atomicfile.Write(p, write); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	slices.Sort(out)
	return out, nil
}

func parseLevels(s string) ([]int, error) {
	if s == "" {
		return nil, nil
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		k, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || k < 1 {
			return nil, usage("--levels %q: expected cluster counts bottom-up, such as 266,26,5", s)
		}
		out = append(out, k)
	}
	return out, nil
}

func newTaxonomyBuildCmd() *cobra.Command {
	var src valueSource
	var mf modelFlags
	var nf namerFlags
	var levels, method, namer, out, jsonOut, vectors string
	var seed uint64
	var top, depth, smooth int
	var weighted, asJSON bool
	cmd := &cobra.Command{
		Use:   "build (RUN | --values FILE.csv) --out TREE.csv",
		Short: "Cluster a run's values (or a values CSV) into a named hierarchy",
		Long: "Normalises the value names (case, spacing, punctuation, plurals, spelling variants;\n" +
			"duplicates merged with their counts), embeds them with the built-in offline embedder\n" +
			"(or --vectors, word vectors in GloVe/word2vec text format), clusters them bottom-up into\n" +
			"--levels (default like the paper: n*266/3307 clusters, then Clio's geometric ratio up to\n" +
			"5; or --top and --depth), names the clusters, and writes the tree. The same input and\n" +
			"--seed give the same tree. Clusters are named by a built-in namer (--namer), or by a\n" +
			"namer plugin with a model (--name-model; --name-plugin to swap the plugin, --name-prompt\n" +
			"its prompt), which the built-in namer stands in for on a cluster the plugin fails on.",
		Args: args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if out == "" {
				return usage("--out TREE.csv is required")
			}
			lv, err := parseLevels(levels)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			vals, err := src.read(ctx, cmd, a)
			if err != nil {
				return err
			}
			if lv == nil && (cmd.Flags().Changed("top") || cmd.Flags().Changed("depth")) {
				items, _ := taxonomy.Normalize(vals)
				base := taxonomy.DefaultLevels(len(items))[0]
				lv = taxonomy.GeometricLevels(base, top, depth)
			}
			e, err := embedder(vectors)
			if err != nil {
				return err
			}
			embedCaller, nameCaller, closeModels, err := mf.open(cmd, a)
			if err != nil {
				return err
			}
			defer closeModels()
			if embedCaller != nil {
				e = taxonomy.ModelEmbedder{Caller: embedCaller, Model: mf.embedModel}
			}
			o := taxonomy.Options{Levels: lv, Method: method, Seed: seed, Weighted: weighted, Smooth: smooth,
				Embedder: e, Field: src.field}
			if len(a) == 1 {
				// A run's values under its privacy floor name no cluster.
				set, err := analysis.ReadRunSettings(a[0])
				if err != nil {
					return err
				}
				r, err := analysis.OpenRun(cmd.Context(), a[0], analysis.LoadOptions{UserKeys: set.UserKeys})
				if err != nil {
					return err
				}
				if o.NamePass, err = taxonomy.NamePass(cmd.Context(), r, src.field, set.Floor()); err != nil {
					return err
				}
			}
			switch namer {
			case "representative", "":
				o.Namer = taxonomy.RepresentativeNamer{}
			case "words":
				o.Namer = taxonomy.WordsNamer{}
			default:
				return usage("--namer %q: expected representative or words", namer)
			}
			pluginNamer, err := nf.open(cmd, nameCaller, mf.nameModel, o.Namer)
			if err != nil {
				return err
			}
			if pluginNamer != nil {
				defer pluginNamer.Plugin.Close()
				o.Namer = pluginNamer
			}
			start := time.Now()
			tree, info, err := taxonomy.Build(ctx, vals, o)
			if err != nil {
				return err
			}
			if err := tree.WriteFile(out); err != nil {
				return err
			}
			if err := mf.finishReask(ctx); err != nil {
				return err
			}
			if jsonOut != "" {
				if err := tree.WriteFile(jsonOut); err != nil {
					return err
				}
			}
			if asJSON {
				return printJSON(cmd, info)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d values (%d distinct names, %d after normalisation) -> %v clusters (%s) in %s\ntree: %s\n",
				info.Values, info.Variants, info.Items, info.Levels, info.Method, time.Since(start).Round(time.Millisecond), out)
			if pluginNamer != nil && len(pluginNamer.Failures) > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "%d clusters kept the built-in name (the namer plugin failed on them), e.g. %s\n", len(pluginNamer.Failures), pluginNamer.Failures[0])
			}
			if info.Unembedded > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "%d values could not be embedded (no known word or part): they cluster together\n", info.Unembedded)
			}
			if len(info.Dropped) > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "%d values set aside: empty after normalisation\n", len(info.Dropped))
			}
			return nil
		},
	}
	src.flags(cmd)
	mf.flags(cmd, true)
	nf.flags(cmd)
	f := cmd.Flags()
	f.StringVar(&levels, "levels", "", "clusters per level, bottom-up, e.g. 266,26,5 (default: the paper's proportions, n·266/3307 then Clio's ratio to 5, fewer levels for few values)")
	f.IntVar(&top, "top", 5, "clusters at the top level (with --depth, when --levels is not given)")
	f.IntVar(&depth, "depth", 3, "number of cluster levels (with --top, when --levels is not given)")
	f.StringVar(&method, "method", taxonomy.KMeans, "kmeans (k-means++ with restarts, mini-batch above 5,000 values; the levels above on centroids) or ward (one Ward tree cut at each level; above 20,000 values mini-batch k-means first)")
	f.Uint64Var(&seed, "seed", taxonomy.DefaultSeed, "seed of k-means")
	f.IntVar(&smooth, "smooth", 0, "move each value towards its N nearest neighbours before clustering (0: off)")
	f.BoolVar(&weighted, "weighted", false, "weight the clustering by the values' counts (counts always give the percentages)")
	f.StringVar(&namer, "namer", "representative", "built-in namer: representative (a central, frequent member) or words (most frequent words); with a namer plugin, it names the clusters the plugin fails on")
	f.StringVar(&vectors, "vectors", "", "word vectors in GloVe or word2vec text format (.gz ok) instead of the built-in ones")
	f.StringVar(&out, "out", "", "the tree: CSV in the paper's layout, or JSON when it ends in .json")
	f.StringVar(&jsonOut, "json-out", "", "also write the tree as JSON here")
	f.BoolVar(&asJSON, "json", false, "print what was done as JSON")
	return cmd
}

func newTaxonomyAssignCmd() *cobra.Command {
	var src valueSource
	var mf modelFlags
	var ref, out, vectors string
	var threshold float64
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "assign (RUN | --values FILE.csv) --reference TREE.csv",
		Short: "Place every value of a run on the nearest leaf of a reference tree",
		Long: "Each value goes to the reference leaf with the same normalised name, or else to the\n" +
			"leaf whose embedding is nearest by cosine; under --threshold it stays unassigned. Writes\n" +
			"one row per value to --out (value, count, assigned, exact, leaf, similarity, and the\n" +
			"leaf's cluster at each level) and prints a summary. The paper's values_tree.csv is the\n" +
			"natural reference, so that runs on different datasets share one taxonomy.",
		Args: args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if ref == "" {
				return usage("--reference TREE.csv is required")
			}
			if threshold < -1 || threshold > 1 {
				return usage("--threshold %v: a cosine similarity, between -1 and 1", threshold)
			}
			ctx := cmd.Context()
			vals, err := src.read(ctx, cmd, a)
			if err != nil {
				return err
			}
			tree, err := taxonomy.ReadFile(ref)
			if err != nil {
				return err
			}
			e, err := embedder(vectors)
			if err != nil {
				return err
			}
			embedCaller, _, closeModels, err := mf.open(cmd, a)
			if err != nil {
				return err
			}
			defer closeModels()
			if embedCaller != nil {
				e = taxonomy.ModelEmbedder{Caller: embedCaller, Model: mf.embedModel}
			}
			as, sum, err := taxonomy.Assign(ctx, vals, tree, e, threshold)
			if err != nil {
				return err
			}
			if out != "" {
				f, err := os.Create(out)
				if err != nil {
					return err
				}
				err = taxonomy.WriteAssignmentsCSV(f, tree, as)
				if cerr := f.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					return fmt.Errorf("writing %s: %w", out, err)
				}
			}
			if asJSON {
				return printJSON(cmd, struct {
					Summary     taxonomy.AssignSummary `json:"summary"`
					Assignments []taxonomy.Assignment  `json:"assignments,omitempty"`
				}{sum, func() []taxonomy.Assignment {
					if out != "" {
						return nil
					}
					return as
				}()})
			}
			fmt.Fprintln(cmd.OutOrStdout(), assignLine(sum))
			if out != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "assignments: %s\n", out)
			}
			return nil
		},
	}
	src.flags(cmd)
	mf.flags(cmd, false)
	f := cmd.Flags()
	f.StringVar(&ref, "reference", "", "the reference tree (CSV in the paper's layout, or JSON)")
	f.Float64Var(&threshold, "threshold", taxonomy.DefaultThreshold, "cosine similarity under which a value stays unassigned")
	f.StringVar(&vectors, "vectors", "", "word vectors in GloVe or word2vec text format instead of the built-in ones")
	f.StringVar(&out, "out", "", "write the assignments CSV here")
	f.BoolVar(&asJSON, "json", false, "print JSON (the summary, and the assignments when there is no --out)")
	return cmd
}

func newTaxonomyCompareCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "compare A.csv B.csv",
		Short: "Agreement of two trees per level over their shared leaves (AMI, ARI, NMI)",
		Long: "Labels each leaf both trees have with its cluster at each level in each tree, and\n" +
			"measures the agreement: adjusted mutual information and adjusted Rand index (corrected\n" +
			"for chance: 0 is chance, 1 identical) and normalised mutual information (not corrected:\n" +
			"random 266-way labels already score about 0.5).",
		Args: args(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, a []string) error {
			ta, err := taxonomy.ReadFile(a[0])
			if err != nil {
				return err
			}
			tb, err := taxonomy.ReadFile(a[1])
			if err != nil {
				return err
			}
			c, err := taxonomy.CompareTrees(ta, tb)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd, c)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%d shared leaves (%d in %s, %d in %s)\n", c.Shared, c.LeavesA, a[0], c.LeavesB, a[1])
			fmt.Fprintf(w, "level  clusters   AMI     ARI     NMI\n")
			for _, l := range c.Levels {
				fmt.Fprintf(w, "%5d  %4d/%-4d  %.3f   %.3f   %.3f\n", l.Level, l.ClustersA, l.ClustersB, l.AMI, l.ARI, l.NMI)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
