# Subject-dependent sweeps: all subjects x folds of one (dataset, target, task, model, protocol),
# trained as one batched model; result tables and figures under reports/sweeps/. Cross-dataset runs
# (training.transfers): one dataset trains, another tests; tables under reports/transfer/.


rule run_sweep:
    input:
        data=sweep_inputs,
    output:
        csv="results/sweeps/{dataset}/{target}_{task}_{model}_{protocol}.csv",
        json="results/sweeps/{dataset}/{target}_{task}_{model}_{protocol}.json",
        md="reports/sweeps/{dataset}_{target}_{task}_{model}_{protocol}.md",
    params:
        train=lambda wc: sweep_params(wc),
        stem=lambda wc, output: output.csv[: -len(".csv")],
        control=lambda wc: " --control" if sweep_params(wc)["control"] else "",
        validate=lambda wc: " --validate" if sweep_params(wc)["validate"] else "",
        ckpt=lambda wc: f"results/checkpoints/{wc.dataset}/{wc.target}_{wc.task}_{wc.model}_{wc.protocol}",
        data=sweep_data,
    log:
        "logs/sweeps/{dataset}/{target}_{task}_{model}_{protocol}.log",
    benchmark:
        "results/benchmarks/sweeps/{dataset}/{target}_{task}_{model}_{protocol}.tsv"
    priority: sweep_priority
    threads: 1
    resources:
        gpu=lambda wc: gpus(sweep_params(wc)["device"]),
        mem_mb=8000,
        runtime=240,
    conda:
        "../envs/neuroaffect.yaml"
    shell:
        "neuroaffect sweep --dataset {wildcards.dataset} --target {wildcards.target}"
        " --task {wildcards.task} --model {wildcards.model} --protocol {wildcards.protocol}"
        " {params.data:q} --checkpoints {params.ckpt:q}"
        " --folds {params.train[folds]:q} --epochs {params.train[epochs]:q}"
        " --batch-size {params.train[batch_size]:q} --lr {params.train[lr]:q}"
        " --device {params.train[device]:q} --seed {params.train[seed]:q}"
        "{params.control}{params.validate}"
        " --out {params.stem:q} --md {output.md:q} > {log} 2>&1"


rule plot_sweep:
    input:
        "results/sweeps/{dataset}/{target}_{task}_{model}_{protocol}.json",
    output:
        report("reports/sweeps/{dataset}_{target}_{task}_{model}_{protocol}.png",
               caption="../report/sweep_figure.rst", category="EEG models", subcategory="{dataset}",
               labels={"target": "{target}", "task": "{task}", "model": "{model}", "protocol": "{protocol}",
                       "shows": "figure"}),
    log:
        "logs/sweeps/{dataset}/{target}_{task}_{model}_{protocol}_figure.log",
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/neuroaffect.yaml"
    shell:
        "neuroaffect plot-sweep --sweep {input} --out {output} > {log} 2>&1"


rule cross_dataset:
    input:
        source=lambda wc: feature_files(wc.source),
        target=lambda wc: feature_files(wc.dataset),
    output:
        csv="results/transfer/{source}_to_{dataset}/{target}_{task}_{model}.csv",
        json="results/transfer/{source}_to_{dataset}/{target}_{task}_{model}.json",
        md="reports/transfer/{source}_to_{dataset}_{target}_{task}_{model}.md",
    wildcard_constraints:
        source="|".join(DATASETS),
    params:
        train=lambda wc: transfer_params(wc),
        stem=lambda wc, output: output.csv[: -len(".csv")],
        control=lambda wc: " --control" if transfer_params(wc)["control"] else "",
        validate=lambda wc: " --validate" if transfer_params(wc)["validate"] else "",
    log:
        "logs/transfer/{source}_to_{dataset}/{target}_{task}_{model}.log",
    benchmark:
        "results/benchmarks/transfer/{source}_to_{dataset}/{target}_{task}_{model}.tsv"
    threads: 1
    resources:
        gpu=lambda wc: gpus(transfer_params(wc)["device"]),
        mem_mb=8000,
        runtime=120,
    conda:
        "../envs/neuroaffect.yaml"
    shell:
        "neuroaffect cross-dataset --source {wildcards.source} --target {wildcards.dataset}"
        " --label {wildcards.target} --task {wildcards.task} --model {wildcards.model}"
        " --source-features results/features/{wildcards.source} --target-features results/features/{wildcards.dataset}"
        " --epochs {params.train[epochs]:q} --batch-size {params.train[batch_size]:q} --lr {params.train[lr]:q}"
        " --device {params.train[device]:q} --seed {params.train[seed]:q}{params.control}{params.validate}"
        " --no-progress --out {params.stem:q} --md {output.md:q} > {log} 2>&1"


rule tabulate_results:
    input:
        sweeps=lambda wc: sweep_results() + transfer_results(),
        sidecars=lambda wc: sweep_sidecars(),
    output:
        md="reports/results.md",
        csv="reports/results.csv",
    log:
        "logs/tabulate_results.log",
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/neuroaffect.yaml"
    shell:
        "neuroaffect tabulate --sweeps {input.sweeps} --sidecars {input.sidecars}"
        " --out reports/results > {log} 2>&1"
