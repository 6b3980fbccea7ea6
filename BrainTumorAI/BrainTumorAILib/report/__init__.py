"""report.html and the terminal summary: `html` writes the page, `images` draws key slices in
physical space, `text` prints the verdicts, `markup` holds the HTML pieces task packages use."""
