# Read every subject of each dataset (checking its format) and summarise it.


rule summarize:
    input:
        lambda wc: data_input(wc.dataset),
    output:
        md="reports/summary/{dataset}.md",
        json="reports/summary/{dataset}.json",
    params:
        root=lambda wc: data_root(wc.dataset),
        custom=lambda wc: custom_args(wc.dataset),
    log:
        "logs/summarize/{dataset}.log",
    benchmark:
        "results/benchmarks/summarize/{dataset}.tsv"
    resources:
        mem_mb=4000,
        runtime=20,
    conda:
        "../envs/neuroaffect.yaml"
    shell:
        "neuroaffect summarize --dataset {wildcards.dataset} --root {params.root:q}"
        " --out reports/summary/{wildcards.dataset} {params.custom:q} > {log} 2>&1"


rule check_data_root:
    output:
        "results/checks/{dataset}.ok",
    log:
        "logs/checks/{dataset}.log",
    params:
        problem=lambda wc: root_problem(wc.dataset),
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../envs/neuroaffect.yaml"
    run:
        if params.problem:
            raise ValueError(params.problem)
        Path(output[0]).touch()


rule check_face_root:
    output:
        "results/checks/{face}.ok",
    log:
        "logs/checks/{face}.log",
    params:
        root=lambda wc: face_root(wc.face),
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../envs/neuroaffect.yaml"
    run:
        require_face_root(wildcards.face, params.root)  # the check beside the face reader, run by this job
        Path(output[0]).touch()
