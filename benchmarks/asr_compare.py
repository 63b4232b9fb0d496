"""Transcription stage alone, in-process: one engine/model on one benchmark recording (time, x RT, WER, peak RSS).

    python benchmarks/asr_compare.py /tmp/mifidelity-bench/sessions/annomi_10min_clean.wav openai-whisper tiny.en
"""
import sys, time, os, resource
import pandas as pd
from mifidelity.privacy import use_offline_environment
use_offline_environment()
from mifidelity.audio import load_recording
from mifidelity.config import load_config
from mifidelity.transcription import get_transcriber
from mifidelity.evaluation import word_error_rate
wav, engine, model = sys.argv[1:4]
cfg = load_config(None)
asr = cfg.asr.model_copy(update={"engine": engine, "model": model})
rec = load_recording(wav)
truth = pd.read_csv(wav.replace(".wav", ".truth.csv"), keep_default_na=False)
l0 = os.getloadavg()[0]; t = time.perf_counter()
tr = get_transcriber(asr).transcribe(rec)
dt = time.perf_counter() - t
print(f"{engine} {model}: transcribe {dt:.1f} s ({rec.duration/dt:.1f}x RT), WER {word_error_rate(' '.join(truth.text), ' '.join(w.text for w in tr.words)):.3f}, peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024:.0f} MB, load {l0:.1f}->{os.getloadavg()[0]:.1f}", flush=True)
