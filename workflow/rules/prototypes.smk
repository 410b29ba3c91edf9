# The valence/arousal prototype grid: teacher (CV, final, control), a second source's CV, the export.
# Outputs: results/prototypes/{teacher,cv_<dataset>,grid,grid_labelled}/ and reports/prototypes/
# (grid_labelled: the same teacher's grid without the support windows, for the B3-labelled student arm).
# The teacher's checkpoints (teacher.pt, control.pt) are written after every epoch and are no declared
# output, like the students' checkpoints: Snakemake removes a declared output before a job reruns, and a
# killed or failed teacher job then resumes from its last epoch (teacher_resumed_from_epoch in
# teacher.json). teacher.json, written last, is the job's output; a changed config or input discards
# the checkpoints (they record what they were trained on).


rule train_teacher:
    input:
        lambda wc: feature_files(PROTO["dataset"]),
    output:
        summary="results/prototypes/teacher/teacher.json",
    params:
        dataset=PROTO.get("dataset"),
        config=lambda wc: teacher_config(),
        train=lambda wc: teacher_train_args(),
    priority: 20
    log:
        "logs/prototypes/train_teacher.log",
    benchmark:
        "results/benchmarks/prototypes/train_teacher.tsv"
    threads: 1
    resources:
        gpu=lambda wc: gpus(PROTO.get("train", {}).get("device", "auto")),
        mem_mb=8000,
        runtime=240,
    conda:
        "../envs/neuroaffect.yaml"
    shell:
        "neuroaffect train-teacher --dataset {params.dataset:q} --features results/features/{params.dataset:q}"
        " --out results/prototypes/teacher {params.train:q} --config {params.config:q} > {log} 2>&1"


rule cross_validate_teacher:
    input:
        lambda wc: feature_files(wc.dataset),
    output:
        "results/prototypes/cv_{dataset}/teacher.json",
    params:
        config=lambda wc: teacher_config(),
        train=lambda wc: teacher_train_args(),
    priority: 20
    log:
        "logs/prototypes/cv_{dataset}.log",
    benchmark:
        "results/benchmarks/prototypes/cv_{dataset}.tsv"
    threads: 1
    resources:
        gpu=lambda wc: gpus(PROTO.get("train", {}).get("device", "auto")),
        mem_mb=8000,
        runtime=240,
    conda:
        "../envs/neuroaffect.yaml"
    shell:
        "neuroaffect train-teacher --cv-only --dataset {wildcards.dataset} --features results/features/{wildcards.dataset}"
        " --out results/prototypes/cv_{wildcards.dataset} {params.train:q} --config {params.config:q} > {log} 2>&1"


rule export_prototypes:
    input:
        summary="results/prototypes/teacher/teacher.json",  # written after teacher.pt and control.pt
        features=lambda wc: feature_files(PROTO["dataset"]),
        support=lambda wc: feature_files(PROTO["support"]) if prototype_support() else [],
        second=lambda wc: [f"results/prototypes/cv_{PROTO['second_source']}/teacher.json"]
        if prototype_second_source() else [],
    output:
        safetensors="results/prototypes/grid/grid.safetensors",
        npz="results/prototypes/grid/grid.npz",
        card="results/prototypes/grid/card.json",
        labelled_safetensors="results/prototypes/grid_labelled/grid.safetensors",
        labelled_npz="results/prototypes/grid_labelled/grid.npz",
        labelled_card="results/prototypes/grid_labelled/card.json",
        summary="reports/prototypes/summary.md",
        occupancy=report("reports/prototypes/occupancy.png", caption="../report/prototypes_occupancy.rst",
                         category="Prototype grid"),
        sizes=report("reports/prototypes/occupancy_sizes.png", caption="../report/prototypes_sizes.rst",
                     category="Prototype grid"),
        geometry=report("reports/prototypes/geometry.png", caption="../report/prototypes_geometry.rst",
                        category="Prototype grid"),
        control=report("reports/prototypes/geometry_control.png", caption="../report/prototypes_control.rst",
                       category="Prototype grid"),
        fit=report("reports/prototypes/teacher_fit.png", caption="../report/prototypes_fit.rst",
                   category="Prototype grid"),
    params:
        dataset=PROTO.get("dataset"),
        config=lambda wc: prototype_config(),
        support=lambda wc: ["--support-features", f"results/features/{PROTO['support']}"] if prototype_support() else [],
        second=lambda wc, input: ["--deap-cv", input.second[0]] if input.second else [],
    priority: 20
    log:
        "logs/prototypes/export_prototypes.log",
    benchmark:
        "results/benchmarks/prototypes/export_prototypes.tsv"
    threads: 1
    resources:
        mem_mb=8000,
        runtime=60,
    conda:
        "../envs/neuroaffect.yaml"
    shell:
        "neuroaffect export-prototypes --dataset {params.dataset:q} --features results/features/{params.dataset:q}"
        " {params.support:q} --teacher results/prototypes/teacher --out results/prototypes/grid"
        " --labelled-out results/prototypes/grid_labelled"
        " --report reports/prototypes {params.second:q} --config {params.config:q} > {log} 2>&1"
