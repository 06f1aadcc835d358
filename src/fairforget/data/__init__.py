"""Stage 1, data preparation: shipped resources -> the record files every later stage reads.

Modules: `resources` (where the shipped files live, checksums), `textfiles` (strict line reading),
`settings` (typed `data:` config access, seeded subsets), `cda` (gender word swapping), `general`
(WikiText-2), `templates` + `planted` (the toy's planted stereotype), `probes` (evaluation pair sets),
`leakage` (train/eval separation), `debias` (debiasing corpus), `glue` (downstream tasks) and `build`
(every output without Snakemake).
"""
