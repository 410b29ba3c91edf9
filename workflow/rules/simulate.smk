# Simulated datasets in their real on-disk layouts (used when data.<dataset>.root is null).


rule simulate:
    output:
        sidecar=f"{SIM}/{{dataset}}/simulation.json",
    params:
        out=lambda wc: f"{SIM}/{wc.dataset}",
        sim=config["simulate"],
        snr=[] if config["simulate"].get("snr") is None else ["--snr", str(config["simulate"]["snr"])],
    priority: 20
    log:
        "logs/simulate/{dataset}.log",
    benchmark:
        "results/benchmarks/simulate/{dataset}.tsv"
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../envs/neuroaffect.yaml"
    shell:
        "neuroaffect simulate --dataset {wildcards.dataset} --scale {params.sim[scale]:q}"
        " --seed {params.sim[seed]:q} --out {params.out:q} {params.snr:q} > {log} 2>&1"
