# Band-DE tokens, topographic maps and physiological features, one file per (dataset, subject).
# Every parameter is a rule param: changing one reruns exactly the feature rules and what follows.


rule extract_features:
    input:
        lambda wc: data_input(wc.dataset),
    output:
        "results/features/{dataset}/{subject}.nc",
    params:
        root=lambda wc: data_root(wc.dataset),
        features=lambda wc: feature_params(wc.dataset),
        custom=lambda wc: custom_args(wc.dataset),
    priority: 20
    log:
        "logs/features/{dataset}/{subject}.log",
    benchmark:
        "results/benchmarks/features/{dataset}/{subject}.tsv"
    threads: 1
    resources:
        mem_mb=6000,
        runtime=30,
    conda:
        "../envs/neuroaffect.yaml"
    shell:
        "neuroaffect features --dataset {wildcards.dataset} --root {params.root:q}"
        " --subject {wildcards.subject} --out {output} --no-progress"
        " --params {params.features:q} {params.custom:q} > {log} 2>&1"


rule plot_feature_maps:
    input:
        lambda wc: f"results/features/{wc.dataset}/{config['features'].get('figures_subject', 1)}.nc",
    output:
        contrast=report("reports/features/{dataset}_label_contrast.png",
                        caption="../report/label_contrast.rst", category="Features"),
        comparison=report("reports/features/{dataset}_topomap_vs_mne.png",
                          caption="../report/topomap_vs_mne.rst", category="Features"),
    log:
        "logs/features/{dataset}_figures.log",
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/neuroaffect.yaml"
    shell:
        "neuroaffect plot-features --features {input} --contrast {output.contrast}"
        " --comparison {output.comparison} > {log} 2>&1"
