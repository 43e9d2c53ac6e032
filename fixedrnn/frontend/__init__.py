"""Fixed-point MFCC front end, bit-exact with CMSIS-DSP ``arm_mfcc_q15`` / ``arm_mfcc_q31``.

Modules: :mod:`.config` (MfccConfig), :mod:`.tables` (the tables arm_mfcc_init_* take),
:mod:`.cmsis_int` / :mod:`.cmsis_math` / :mod:`.cmsis_fft` (CMSIS-DSP's integer arithmetic, log,
sqrt and real FFT), :mod:`.pipeline` (the MFCC of a batch of frames), :mod:`.framing` (frames and
streaming), :mod:`.wav` (reading WAV files). The public names are re-exported by :mod:`fixedrnn.mfcc`.
"""
