#!/usr/bin/env bash
# Build an HTML template for `dvc plots show --html-template` with vega, vega-lite and
# vega-embed inlined, so the page renders without internet (DVC's default page loads them from
# a CDN). The versions are the ones dvc-render's default page asks for.
set -euo pipefail
out=${1:-build/plots-template.html}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent vega@5.20.2 vega-lite@5.2.0 vega-embed@6.18.2 >/dev/null)
for package in vega-5.20.2 vega-lite-5.2.0 vega-embed-6.18.2; do
  tar -xzf "$work/$package.tgz" -C "$work" "package/build/${package%-*}.min.js"
done
mkdir -p "$(dirname "$out")"
{
  printf '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n<title>fmnist: DVC plots</title>\n'
  for name in vega vega-lite vega-embed; do
    printf '<script>\n'; cat "$work/package/build/$name.min.js"; printf '\n</script>\n'
  done
  printf '<style>table { border-spacing: 15px; }</style>\n</head>\n<body>\n{plot_divs}\n</body>\n</html>\n'
} > "$out.tmp"
mv "$out.tmp" "$out"
echo "plots: wrote $out"
