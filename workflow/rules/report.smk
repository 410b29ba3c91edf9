# The report's own items: every Markdown table rendered as HTML (shown in the page, where Markdown is only a
# download), the cost of every rule, and reports/README.md with the headline tables for readers on GitHub.
# Captions: workflow/report/*.rst (Jinja templates: they read the config to tell real data from simulated).


rule render_summary_html:
    input:
        "reports/summary/{dataset}.md",
    output:
        report("reports/summary/{dataset}.html", caption="../report/summary.rst", category="Data",
               labels={"dataset": "{dataset}", "shows": "what was read"}),
    log:
        "logs/report/summary_{dataset}.log",
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../envs/neuroaffect.yaml"
    shell:
        "neuroaffect render-html --md {input} --out {output} > {log} 2>&1"


rule render_sweep_html:
    input:
        "reports/sweeps/{dataset}_{target}_{task}_{model}_{protocol}.md",
    output:
        report("reports/sweeps/{dataset}_{target}_{task}_{model}_{protocol}.html", caption="../report/sweep.rst",
               category="EEG models", subcategory="{dataset}",
               labels={"target": "{target}", "task": "{task}", "model": "{model}", "protocol": "{protocol}",
                       "shows": "table"}),
    log:
        "logs/report/sweep_{dataset}_{target}_{task}_{model}_{protocol}.log",
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../envs/neuroaffect.yaml"
    shell:
        "neuroaffect render-html --md {input} --out {output} > {log} 2>&1"


rule render_results_html:
    input:
        "reports/results.md",
    output:
        report("reports/results.html", caption="../report/results.rst", category="EEG models",
               subcategory="All sweeps", labels={"table": "results and protocol comparison"}),
    log:
        "logs/report/results.log",
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../envs/neuroaffect.yaml"
    shell:
        "neuroaffect render-html --md {input} --out {output} > {log} 2>&1"


rule render_grid_html:
    input:
        "reports/prototypes/summary.md",
    output:
        report("reports/prototypes/summary.html", caption="../report/prototypes_summary.rst",
               category="Prototype grid", labels={"shows": "summary table"}),
    log:
        "logs/report/prototypes_summary.log",
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../envs/neuroaffect.yaml"
    shell:
        "neuroaffect render-html --md {input} --out {output} > {log} 2>&1"


rule render_ablation_html:
    input:
        "reports/distill/ablation.md",
    output:
        report("reports/distill/ablation.html", caption="../report/distill_ablation.rst", category="Face student",
               labels={"shows": "ablation table"}),
    log:
        "logs/report/distill_ablation.log",
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../envs/neuroaffect.yaml"
    shell:
        "neuroaffect render-html --md {input} --out {output} > {log} 2>&1"


rule tabulate_benchmarks:
    input:
        unpack(benchmark_inputs),
    output:
        md="reports/performance.md",
        csv="reports/performance.csv",
    params:
        rules=lambda wc, input: [item for name, files in input.items() for item in ("--rule", name, *files)],
    log:
        "logs/report/performance.log",
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../envs/neuroaffect.yaml"
    shell:
        "neuroaffect tabulate-benchmarks {params.rules:q} --out reports/performance > {log} 2>&1"


rule render_performance_html:
    input:
        "reports/performance.md",
    output:
        report("reports/performance.html", caption="../report/performance.rst", category="Performance",
               labels={"shows": "wall time and memory per rule"}),
    log:
        "logs/report/performance_html.log",
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../envs/neuroaffect.yaml"
    shell:
        "neuroaffect render-html --md {input} --out {output} > {log} 2>&1"


rule compose_readme:
    input:
        readme_sections,
    output:
        "reports/README.md",
    params:
        intro=lambda wc: readme_intro(),
    log:
        "logs/report/readme.log",
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../envs/neuroaffect.yaml"
    shell:
        "neuroaffect compose-readme --sections {input} --intro {params.intro:q} --out {output} > {log} 2>&1"
