# SPDX-License-Identifier: Apache-2.0
# results.tsv of tests/bench/bench.sh as an SVG bar chart: ns per touch (redis: per request)
# of each workload under each config, on a log scale, the value on each bar.
# Usage: awk -F'\t' -f tests/bench/svg.awk results.tsv >results.svg

function esc(s) {
	gsub(/&/, "\\&amp;", s)
	gsub(/</, "\\&lt;", s)
	gsub(/>/, "\\&gt;", s)
	return s
}

function log10(x) { return log(x) / log(10) }

# a time in ns for an axis or a bar: 850 ns, 12 us, 1.5 ms
function human(ns) {
	if (ns >= 1e6)
		return sprintf(ns >= 1e7 ? "%.0f ms" : "%.3g ms", ns / 1e6)
	if (ns >= 1e3)
		return sprintf(ns >= 1e4 ? "%.0f µs" : "%.3g µs", ns / 1e3)
	return sprintf("%.0f ns", ns)
}

function y_of(v) { return TOP + PH - (log10(v) - lo) / (hi - lo) * PH }

BEGIN {
	FS = "\t"
	ncfg = split("none uswap-idle swapfile zram uswap", CFG, " ")
	split("#8c8c8c #9ecae1 #e6550d #756bb1 #3182bd", COLOR, " ")
	BW = 22			# bar width
	GAP = 26		# between workloads
	LEFT = 70
	TOP = 64
	PH = 300		# plot height
}

NR == 1 {
	for (j = 1; j <= NF; j++)
		col[$j] = j
	next
}

{
	wl = $col["workload"]
	if (!(wl in seen)) {
		seen[wl] = 1
		order[++nwl] = wl
	}
	size = $col["size_mib"]
	if ($col["config"] != "uswap-idle")
		target = $col["target_mib"]
	v = $col["ns_per_touch"] + 0
	if (v > 0) {
		val[wl, $col["config"]] = v
		has[$col["config"]] = 1
		if (min == "" || v < min)
			min = v
		if (v > max)
			max = v
	}
}

END {
	for (c = 1; c <= ncfg; c++)
		if (CFG[c] in has)
			used[++nused] = c
	if (nused == 0)
		nused = 1
	gw = nused * BW + GAP
	W = LEFT + nwl * gw + 20
	H = TOP + PH + 46
	if (min == "") {
		min = 1
		max = 10
	}
	lo = int(log10(min))
	if (lo > log10(min))
		lo--
	# room above the highest bar for its label
	hi = log10(max) + 0.6
	hi = hi == int(hi) ? hi : int(hi) + 1
	if (hi <= lo)
		hi = lo + 1

	printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" ", W, H
	printf "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n", W, H
	printf "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", W, H
	printf "<text x=\"%d\" y=\"20\" font-size=\"15\" font-weight=\"bold\">", LEFT
	printf "uswap benchmark: time per touch, log scale (%s MiB held at %s MiB)</text>\n", \
		esc(size), esc(target)
	printf "<text x=\"%d\" y=\"37\" fill=\"#555\">lower is better; redis: per GET request;", LEFT
	printf " uswap-idle: target above the working set</text>\n"

	# legend
	x = LEFT
	for (k = 1; k <= nused; k++) {
		c = used[k]
		printf "<rect x=\"%d\" y=\"46\" width=\"12\" height=\"12\" fill=\"%s\"/>", x, COLOR[c]
		printf "<text x=\"%d\" y=\"57\">%s</text>\n", x + 16, CFG[c]
		x += 30 + 7 * length(CFG[c])
	}

	# decades: grid line and label
	for (d = lo; d <= hi; d++) {
		y = y_of(10 ^ d)
		printf "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>", LEFT,
			W - 20, y, y
		printf "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", LEFT - 6, y + 4,
			human(10 ^ d)
	}
	printf "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"#333\"/>\n", LEFT, W - 20,
		TOP + PH, TOP + PH

	for (i = 1; i <= nwl; i++) {
		wl = order[i]
		x0 = LEFT + (i - 1) * gw + GAP / 2
		for (k = 1; k <= nused; k++) {
			c = used[k]
			if (!((wl, CFG[c]) in val))
				continue
			v = val[wl, CFG[c]]
			x = x0 + (k - 1) * BW
			y = y_of(v)
			printf "<rect x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%.1f\" fill=\"%s\">", x + 1,
				y, BW - 2, TOP + PH - y, COLOR[c]
			printf "<title>%s, %s: %.0f ns</title></rect>\n", esc(wl), CFG[c], v
			printf "<text transform=\"translate(%d,%.1f) rotate(-90)\" font-size=\"10\">%s</text>\n",
				x + BW / 2 + 4, y - 4, human(v)
		}
		printf "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"13\">%s</text>\n",
			x0 + nused * BW / 2, TOP + PH + 20, esc(wl)
	}
	print "</svg>"
}
