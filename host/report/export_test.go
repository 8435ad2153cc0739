package report

// HeatmapOf is the heatmap report.json holds for an analysed table, for the
// attack tests of package report_test on tables that have no run.
var HeatmapOf = heatmap
