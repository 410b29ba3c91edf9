# The distilled face student: simulated face sets, the ablation arms x seeds, one evaluation, the export.
# Outputs: results/sim/<face>/, results/students/<arm>_seed<seed>/ (a grid arm also writes its grid to grid/),
# reports/distill/, results/student/.


rule simulate_faces:
    output:
        sidecar=f"{SIM}/{{face}}/simulation.json",
    params:
        out=lambda wc: f"{SIM}/{wc.face}",
        scale=FACES.get("scale", "demo"),
        seed=FACES.get("seed", 0),
    priority: 10
    log:
        "logs/simulate/{face}.log",
    benchmark:
        "results/benchmarks/simulate/{face}.tsv"
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../envs/neuroaffect.yaml"
    shell:
        "neuroaffect simulate --dataset {wildcards.face} --scale {params.scale:q} --seed {params.seed:q}"
        " --out {params.out:q} > {log} 2>&1"


rule train_student:
    input:
        grid=lambda wc: [f"{student_grid(wc.arm)}/card.json"] if student_grid(wc.arm) else [],
        ferplus=lambda wc: face_input("ferplus"),
    output:
        record="results/students/{arm}_seed{seed}/record.json",
    params:
        grid=lambda wc: student_grid_args(wc.arm),
        ferplus=lambda wc: face_root("ferplus"),
        train=lambda wc: student_train_args(),
        out=lambda wc: f"results/students/{wc.arm}_seed{wc.seed}",
    priority: 10
    log:
        "logs/students/{arm}_seed{seed}.log",
    benchmark:
        "results/benchmarks/students/{arm}_seed{seed}.tsv"
    threads: 1
    resources:
        gpu=lambda wc: gpus(DISTILL.get("train", {}).get("device", "auto")),
        mem_mb=8000,
        runtime=600,
    conda:
        "../envs/neuroaffect.yaml"
    shell:
        "neuroaffect train-student --ferplus {params.ferplus:q} {params.grid:q} --arm {wildcards.arm}"
        " --seed {wildcards.seed} --out {params.out:q} {params.train:q} > {log} 2>&1"


rule evaluate_students:
    input:
        records=lambda wc: student_records(),
        ferplus=lambda wc: face_input("ferplus"),
        cross=lambda wc: [face_input(f) for f in ("affectnet-mini", "ckplus") if face_enabled(f)],
    output:
        md="reports/distill/ablation.md",
        json="reports/distill/ablation.json",
        confusion=report("reports/distill/confusion.png", caption="../report/distill_confusion.rst",
                         category="Face student"),
        reliability=report("reports/distill/reliability.png", caption="../report/distill_reliability.rst",
                           category="Face student"),
    params:
        runs=lambda wc: [str(Path(r).parent) for r in student_records()],
        ferplus=lambda wc: face_root("ferplus"),
        cross=lambda wc: cross_face_args(),
        note=DISTILL.get("scale_note", ""),
    priority: 10
    log:
        "logs/students/evaluate.log",
    benchmark:
        "results/benchmarks/students/evaluate.tsv"
    resources:
        mem_mb=8000,
        runtime=60,
    conda:
        "../envs/neuroaffect.yaml"
    shell:
        "neuroaffect evaluate-students --runs {params.runs:q} --ferplus {params.ferplus:q} {params.cross:q}"
        " --scale-note {params.note:q} --out reports/distill > {log} 2>&1"


rule export_student:
    input:
        records=lambda wc: student_records(arm="B3"),
        evaluation="reports/distill/ablation.json",
    output:
        model="results/student/model.safetensors",
        config="results/student/config.json",
        card="results/student/README.md",
        onnx="results/student/model.onnx",
    params:
        runs=lambda wc: [str(Path(r).parent) for r in student_records(arm="B3")],
    priority: 10
    log:
        "logs/students/export.log",
    benchmark:
        "results/benchmarks/students/export.tsv"
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../envs/neuroaffect.yaml"
    shell:
        "neuroaffect export-student --runs {params.runs:q} --arm B3 --evaluation {input.evaluation}"
        " --out results/student > {log} 2>&1"
