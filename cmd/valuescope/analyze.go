package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/valuescope/valuescope/host/analysis"
)

func init() { commands = append(commands, newAnalyzeCmd) }

func newAnalyzeCmd() *cobra.Command {
	var sf statFlags
	var tf treeFlags
	var tables, rows, cols []string
	var configPath, out string
	var minConv, minUsers, monteCarlo int
	var userKeys []string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "analyze RUN",
		Short: "Residual analysis of a run: values against contexts, with corrections and the privacy floor",
		Long: "Builds contingency tables of an annotation field (rows) against a context (columns: another\n" +
			"field such as response_type, source, or conversation metadata such as model, language,\n" +
			"topic), counting distinct conversations, and writes for each, into RUN/analysis/:\n" +
			"NAME.cells.csv (every reported cell: count, expected, adjusted residual, p, adjusted p),\n" +
			"NAME.residuals.csv (the matrix of adjusted residuals) and NAME.json (the test, the\n" +
			"threshold, the top associations per context, what the privacy floor suppressed).\n\n" +
			"Tables come from the [analysis] section of the run's config when it has one, then\n" +
			"--config (an analysis.toml with [analysis] settings and [[analysis.table]] rows/cols),\n" +
			"then --table ROWS:CONTEXT (or NAME=ROWS:CONTEXT) and --rows/--cols. With none, every\n" +
			"field is analysed against every label field, metadata key (2 to 100 values, not identifiers) and\n" +
			"source (when the run has several). Flags override the files' settings.\n\n" +
			"--tree TREE.csv counts the values of --tree-field (ai_values) on level --tree-level of a\n" +
			"taxonomy — the paper's values_tree.csv, or a tree from taxonomy build — instead of by\n" +
			"name: each value goes to the tree value of the same normalised name, else to the nearest\n" +
			"by embedding (offline, or --vectors), else, under --threshold, is left unplaced and\n" +
			"counted. The files then go to RUN/analysis/TREE.levelN/, with taxonomy.json (the tree,\n" +
			"level and what was placed) and assignments.csv (each value's place).",
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			dir := a[0]
			o := analysis.FolderOptions{SettingsFile: configPath, Rows: rows, Cols: cols}
			fl := cmd.Flags()
			if fl.Changed("alpha") {
				o.Alpha = &sf.alpha
			}
			if fl.Changed("correction") {
				o.Correction = &sf.correction
			}
			if fl.Changed("family") {
				o.Family = &sf.family
			}
			if fl.Changed("tests") {
				o.Tests = &sf.tests
			}
			if fl.Changed("top") {
				o.Top = &sf.top
			}
			if fl.Changed("method") {
				o.Method = &sf.method
			}
			if fl.Changed("monte-carlo") {
				o.MonteCarlo = &monteCarlo
			}
			if fl.Changed("min-conversations") {
				o.MinConversations = &minConv
			}
			if fl.Changed("min-users") {
				o.MinUsers = &minUsers
			}
			if fl.Changed("user-keys") {
				o.UserKeys = userKeys
			}
			for _, s := range tables {
				t, err := analysis.ParseTableFlag(s)
				if err != nil {
					return usageError{err}
				}
				o.Tables = append(o.Tables, t)
			}
			tm, tmap, err := tf.mapper(cmd, []string{dir})
			if err != nil {
				return err
			}
			if tm != nil {
				o.Mapper = tm
			}
			o.Out = out
			if out == "" && tmap != nil {
				o.Out = filepath.Join(dir, "analysis", fmt.Sprintf("%s.level%d", strings.TrimSuffix(filepath.Base(tf.path), filepath.Ext(tf.path)), tf.level))
			}
			reports, err := analysis.AnalyzeFolder(cmd.Context(), dir, o)
			if analysis.IsOptionsError(err) {
				return usageError{err}
			}
			if err != nil {
				return err
			}
			var treeFiles []string
			if tm != nil && tm.Err() != nil {
				return tm.Err()
			}
			if tmap != nil {
				if treeFiles, err = tmap.writeFiles(o.Out); err != nil {
					return err
				}
				for i, f := range treeFiles { // relative to the run, as the tables' files
					if r, err := filepath.Rel(dir, f); err == nil {
						treeFiles[i] = filepath.ToSlash(r)
					}
				}
			}
			if asJSON {
				if tmap != nil {
					tmap.write(cmd.ErrOrStderr())
				}
				return printJSON(cmd, reports)
			}
			w := cmd.OutOrStdout()
			if tmap != nil {
				tmap.write(w)
				fmt.Fprintf(w, "files: %v\n\n", treeFiles)
			}
			for k, rep := range reports {
				if k > 0 {
					fmt.Fprintln(w)
				}
				title := fmt.Sprintf("== %s: %s against %s (%d of %d conversations in the table", rep.Name, rep.Rows.Spec, rep.Cols.Spec, rep.Input.InTable, rep.Input.Conversations)
				if tmap != nil {
					title += fmt.Sprintf("; %d annotations left unplaced", rep.Input.Unplaced)
				}
				title += ")"
				if err := analysis.WriteText(w, title, rep.Summary, rep.Contexts); err != nil {
					return err
				}
				fmt.Fprintf(w, "files: %v\n", rep.Files)
			}
			return nil
		},
	}
	sf.register(cmd)
	tf.register(cmd)
	f := cmd.Flags()
	f.StringArrayVar(&tables, "table", nil, "a table, ROWS:CONTEXT or NAME=ROWS:CONTEXT (repeatable), e.g. ai_values:topic")
	f.StringArrayVar(&rows, "rows", nil, "rows of a table: an annotation field (repeatable, paired with --cols)")
	f.StringArrayVar(&cols, "cols", nil, "context of a table: a field, source, or a metadata key (meta.KEY) (repeatable)")
	f.StringVar(&configPath, "config", "", "an analysis.toml with [analysis] settings and [[analysis.table]] entries")
	f.StringVar(&out, "out", "", "folder for the files (default RUN/analysis)")
	f.IntVar(&minConv, "min-conversations", analysis.DefaultFloor.MinConversations, "privacy floor: distinct conversations a value, context or cell needs to be reported")
	f.IntVar(&minUsers, "min-users", analysis.DefaultFloor.MinUsers, "privacy floor: distinct users needed, where the data names users")
	f.StringSliceVar(&userKeys, "user-keys", analysis.DefaultUserKeys, "metadata keys naming a conversation's user, first found wins")
	f.BoolVar(&asJSON, "json", false, "print the reports as JSON")
	f.IntVar(&monteCarlo, "monte-carlo", 0, "random tables with the observed margins for the table's Monte Carlo p-value (0: none; R's default is 2000)")
	return cmd
}
