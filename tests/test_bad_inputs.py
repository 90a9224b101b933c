"""Every bad input to the command line: one line on stderr, exit status 2, nothing touched.

Each case runs ``ltp_brainpy.cli.main`` in-process against a pre-filled output folder (a
results.json, a metadata.json and an .npz with known bytes), which must come out byte-identical.
Nothing may be simulated or fitted before the input is validated: the runner and the fitter are
replaced by a stub that fails the case if it is reached, so the whole suite runs without
compiling anything.
"""
import os
from pathlib import Path

import pytest

import ltp_brainpy.experiments
import ltp_brainpy.fit
from ltp_brainpy.cli import main

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / 'configs'

# Small valid configs, one per protocol; a case adds to or replaces one line of them.
STDP = '[[run]]\nlabel = "s"\nprotocol = "stdp"\ndelta_t = ["10 ms"]\nn_pairs = 2\n'
PAIRING = '[[run]]\nlabel = "p"\nprotocol = "pairing"\nhold = ["0 mV"]\nn_pulses = 2\n'
FREQUENCY = ('[[run]]\nlabel = "f"\nprotocol = "frequency_response"\nfrequencies = ["10 Hz"]\n'
             'n_pulses = 2\n')
DEPRESSION = ('[[run]]\nlabel = "d"\nprotocol = "short_term_depression"\n'
              'frequencies = ["10 Hz"]\nn_spikes = 2\n')
PAIR_FREQUENCY = ('[[run]]\nlabel = "pf"\nprotocol = "pair_frequency"\nfrequencies = ["10 Hz"]\n'
                  'n_pairs = 2\nn_trains = 2\n')
MG = '[[run]]\nlabel = "mg"\nprotocol = "mg_block"\n'
DBN = ('[[run]]\nlabel = "n"\nprotocol = "dbn_training"\nlayer_sizes = [2, 3]\n'
       'patterns = [[1.0, 0.0]]\nn_cycles = 1\npresentation = "10 ms"\n')
ASSOCIATION = ('[[run]]\nlabel = "a"\nprotocol = "association"\nn_pairs = 2\npattern_size = 2\n'
               'n_input = 10\nn_hidden = 4\nn_cycles = 1\n')
DATASET = '[[run]]\nlabel = "ds"\nprotocol = "dataset"\ndata = "markram1997"\n'
DIGITS = '[[run]]\nlabel = "dg"\nprotocol = "digits"\nn_hidden = 4\nn_train = 20\nn_test = 10\n'


def cfg(base, *lines, top=''):
    """``base`` with ``lines`` appended to its (last) run table, ``top`` before it."""
    return top + base + ''.join(f'{line}\n' for line in lines)


def run(text, field, *args, also=None):
    """A config text run through ``ltp-brainpy run``."""
    return (text, ['run', '{cfg}', '--out', '{out}', *args], field, also)


def setting(assignment, field, base=STDP, also=None):
    """A ``--set`` on a valid config."""
    return run(base, field, '--set', assignment, also=also)


def argv(field, *args, text=STDP, also=None):
    """A raw command line (``{cfg}``, ``{out}`` and ``{tmp}`` are filled in)."""
    return (text, list(args), field, also)


CASES = {
    # ----------------------------------------------------------------- keys at every level
    'unknown_top_level_key': run(cfg(STDP, top='titel = "x"\n'), 'titel', also="'title'"),
    'unknown_model_key': run(cfg(STDP, top='[model]\nthetap = "0.5 uM"\n'), 'thetap',
                             also="'theta_p'"),
    'unknown_run_key': run(cfg(STDP, 'n_pair = 3'), 'n_pair', also="'n_pairs'"),
    'unknown_protocol': run('[[run]]\nprotocol = "stpd"\ndelta_t = ["10 ms"]\n', 'protocol',
                            also="'stdp'"),
    'protocol_not_a_string': run('[[run]]\nprotocol = 5\n', 'protocol'),
    'missing_protocol': run('[[run]]\nlabel = "x"\n', 'protocol'),
    'missing_required_argument': run('[[run]]\nprotocol = "stdp"\n', 'delta_t'),
    'no_run_table': run('title = "x"\n', 'run'),
    'empty_run_list': run('run = []\n', 'run'),
    'run_model_unknown_key': run(cfg(STDP, '[run.model]', 'thetap = "0.5 uM"'), 'thetap'),
    'misspelled_rule': run(cfg(STDP, top='[model]\nrule = "tripplet"\n'), 'rule',
                           also='triplet'),
    'misspelled_rule_in_run_model': run(cfg(STDP, '[run.model]', 'rule = "clopat"'), 'rule'),
    'rule_not_a_string': run(cfg(STDP, top='[model]\nrule = 5\n'), 'rule'),
    'parameter_of_another_rule': run(cfg(STDP, top='[model]\ntau_plus = "17 ms"\n'), 'tau_plus'),
    'unknown_preset_key': run(cfg(STDP, top='preset = "{tmp}/p.toml"\n'), 'preset'),
    # ----------------------------------------------------------------- types
    'string_where_count': run(cfg(STDP, 'n_bursts = "many"'), 'n_bursts'),
    'float_where_count': run(cfg(STDP, 'n_bursts = 2.5'), 'n_bursts'),
    'list_where_count': run(cfg(STDP, 'n_bursts = [1, 2]'), 'n_bursts'),
    'table_where_count': run(cfg(STDP, 'n_bursts = {a = 1}'), 'n_bursts'),
    'bool_where_count': run(cfg(STDP, 'n_bursts = true'), 'n_bursts'),
    'string_where_quantity': run(cfg(STDP, 'frequency = "fast"'), 'frequency'),
    'bare_number_where_quantity': run(cfg(STDP, 'frequency = 5'), 'frequency'),
    'list_where_quantity': run(cfg(STDP, 'frequency = ["1 Hz", "2 Hz"]'), 'frequency'),
    'table_where_quantity': run(cfg(STDP, 'frequency = {value = 1}'), 'frequency'),
    'bool_where_quantity': run(cfg(STDP, 'frequency = true'), 'frequency'),
    'number_where_bool': run(cfg(PAIRING, 'nmda_block = 1'), 'nmda_block'),
    'string_where_bool': run(cfg(PAIRING, 'nmda_block = "yes"'), 'nmda_block'),
    'number_where_string': run(cfg(ASSOCIATION, 'input_mode = 5'), 'input_mode'),
    'number_where_dataset_name': run('[[run]]\nprotocol = "dataset"\ndata = 5\n', 'data'),
    'string_where_float': run(cfg(ASSOCIATION, 'fan_in = "400"'), 'fan_in'),
    'run_is_a_list_of_numbers': run('run = [1, 2]\n', 'run'),
    'run_is_a_table': run('[run]\nprotocol = "stdp"\n', 'run'),
    'model_is_a_number': run(cfg(STDP, top='model = 5\n'), 'model'),
    'run_model_is_a_number': run(cfg(STDP, 'model = 5'), 'model'),
    'title_is_a_number': run(cfg(STDP, top='title = 5\n'), 'title'),
    'description_is_a_list': run(cfg(STDP, top='description = ["a"]\n'), 'description'),
    'label_is_a_number': run(cfg(STDP).replace('label = "s"', 'label = 7'), 'label'),
    'label_is_a_list': run(cfg(STDP).replace('label = "s"', 'label = ["s"]'), 'label'),
    'mixed_types_in_array': run(cfg(STDP).replace('["10 ms"]', '["10 ms", 5]'), 'delta_t'),
    'mixed_units_in_array': run(cfg(STDP).replace('["10 ms"]', '["10 ms", "5 Hz"]'), 'delta_t'),
    'nested_array': run(cfg(STDP).replace('["10 ms"]', '[["10 ms"]]'), 'delta_t'),
    'model_bare_number': run(cfg(STDP, top='[model]\ntheta_p = 5\n'), 'theta_p'),
    'model_bool': run(cfg(STDP, top='[model]\ntheta_p = true\n'), 'theta_p'),
    'model_table': run(cfg(STDP, top='[model]\ntheta_p = {x = 1}\n'), 'theta_p'),
    'model_list_where_scalar': run(cfg(STDP, top='[model]\ntheta_p = ["0.5 uM", "0.6 uM"]\n'),
                                   'theta_p'),
    'model_string': run(cfg(STDP, top='[model]\ntheta_p = "high"\n'), 'theta_p'),
    'dt_bare_number': run(cfg(STDP, top='dt = 0.1\n'), 'dt'),
    'dt_bool': run(cfg(STDP, top='dt = true\n'), 'dt'),
    'dt_list': run(cfg(STDP, top='dt = ["0.1 ms"]\n'), 'dt'),
    'preset_is_a_number': run(cfg(STDP, top='preset = 5\n'), 'preset'),
    'layer_sizes_string': run(cfg(DBN).replace('[2, 3]', '"2,3"'), 'layer_sizes'),
    'layer_sizes_one_layer': run(cfg(DBN).replace('[2, 3]', '[2]'), 'layer_sizes'),
    'patterns_out_of_range': run(cfg(DBN).replace('[[1.0, 0.0]]', '[[2.0, 0.0]]'), 'patterns'),
    'patterns_not_a_matrix': run(cfg(DBN).replace('[[1.0, 0.0]]', '"ab"'), 'patterns'),
    'patterns_wrong_width': run(cfg(DBN).replace('[[1.0, 0.0]]', '[[1.0, 0.0, 1.0]]'),
                                'patterns'),
    # ----------------------------------------------------------------- seeds
    'seed_negative': run(cfg(STDP, top='seed = -1\n'), 'seed'),
    'seed_too_large': run(cfg(STDP, top='seed = 4294967296\n'), 'seed'),
    'seed_float': run(cfg(STDP, top='seed = 1.5\n'), 'seed'),
    'seed_string': run(cfg(STDP, top='seed = "0"\n'), 'seed'),
    'seed_bool': run(cfg(STDP, top='seed = true\n'), 'seed'),
    'seed_set_negative': setting('seed=-5', 'seed'),
    # ----------------------------------------------------------------- units
    'missing_unit': run(cfg(STDP, top='[model]\ntheta_p = "0.5"\n'), 'theta_p'),
    'wrong_dimension': run(cfg(STDP, top='[model]\ntheta_p = "1 ms"\n'), 'theta_p'),
    'unknown_unit': run(cfg(STDP, top='[model]\ntheta_p = "0.1 parsec"\n'), 'theta_p'),
    'unit_syntax_error': run(cfg(STDP, top='[model]\ntheta_p = "0.1 uM**"\n'), 'theta_p'),
    'dt_division_by_zero': run(cfg(STDP, top='dt = "0.1 ms/0"\n'), 'dt'),
    'dt_zero': run(cfg(STDP, top='dt = "0 ms"\n'), 'dt'),
    'dt_negative': run(cfg(STDP, top='dt = "-0.1 ms"\n'), 'dt'),
    'dt_wrong_dimension': run(cfg(STDP, top='dt = "0.1 Hz"\n'), 'dt'),
    'dt_missing_unit': run(cfg(STDP, top='dt = "0.1"\n'), 'dt'),
    'dt_too_large': run(cfg(STDP, top='dt = "5 ms"\n'), 'dt'),
    'frequency_zero': run(cfg(STDP, 'frequency = "0 Hz"'), 'frequency'),
    'frequency_negative': run(cfg(STDP, 'frequency = "-1 Hz"'), 'frequency'),
    'frequency_wrong_dimension': run(cfg(STDP, 'frequency = "1 ms"'), 'frequency'),
    'frequency_missing_unit': run(cfg(STDP, 'frequency = "1"'), 'frequency'),
    'frequencies_with_a_zero': run(cfg(FREQUENCY).replace('["10 Hz"]', '["10 Hz", "0 Hz"]'),
                                   'frequencies'),
    'frequencies_empty': run(cfg(FREQUENCY).replace('["10 Hz"]', '[]'), 'frequencies'),
    'pairing_frequency_negative': run(cfg(PAIRING, 'frequency = "-2 Hz"'), 'frequency'),
    'depression_frequency_zero': run(cfg(DEPRESSION).replace('10 Hz', '0 Hz'), 'frequencies'),
    'n_pulses_zero': run(cfg(PAIRING).replace('n_pulses = 2', 'n_pulses = 0'), 'n_pulses'),
    'n_pulses_negative': run(cfg(FREQUENCY).replace('n_pulses = 2', 'n_pulses = -3'),
                             'n_pulses'),
    'n_spikes_zero': run(cfg(DEPRESSION).replace('n_spikes = 2', 'n_spikes = 0'), 'n_spikes'),
    'n_inputs_zero': run(cfg(PAIRING, 'n_inputs = 0'), 'n_inputs'),
    'n_bursts_zero': run(cfg(STDP, 'n_bursts = 0'), 'n_bursts'),
    'n_trains_zero': run(cfg(PAIR_FREQUENCY).replace('n_trains = 2', 'n_trains = 0'),
                         'n_trains'),
    'n_cycles_zero': run(cfg(DBN).replace('n_cycles = 1', 'n_cycles = 0'), 'n_cycles'),
    'burst_interval_zero': run(cfg(STDP, 'n_bursts = 2', 'burst_interval = "0 ms"'),
                               'burst_interval'),
    'burst_interval_missing': run(cfg(STDP, 'n_bursts = 2'), 'burst_interval'),
    'burst_interval_shorter_than_burst': run(
        cfg(STDP, 'n_bursts = 2', 'burst_interval = "10 ms"'), 'burst_interval'),
    'train_interval_negative': run(cfg(PAIR_FREQUENCY, 'train_interval = "-1 s"'),
                                   'train_interval'),
    'stim_duration_zero': run(cfg(STDP, 'stim_duration = "0 ms"'), 'stim_duration'),
    'stim_duration_negative': run(cfg(STDP, 'stim_duration = "-0.5 ms"'), 'stim_duration'),
    'stim_current_zero': run(cfg(STDP, 'stim_current = "0 nA"'), 'stim_current'),
    'stim_current_below_threshold': run(cfg(STDP, 'stim_current = "0.001 nA"'),
                                        'stim_current'),
    'mg_negative': run(cfg(MG, 'mg = "-1 mM"'), 'mg'),
    'mg_wrong_dimension': run(cfg(MG, 'mg = "1 mV"'), 'mg'),
    'pairing_mg_negative': run(cfg(PAIRING, 'mg = "-1 mM"'), 'mg'),
    'presentation_zero': run(cfg(DBN).replace('"10 ms"', '"0 ms"'), 'presentation'),
    'max_rate_negative': run(cfg(ASSOCIATION, 'max_rate = "-1 Hz"'), 'max_rate'),
    'fan_in_negative': run(cfg(ASSOCIATION, 'fan_in = -1.0'), 'fan_in'),
    'w_spread_negative': run(cfg(ASSOCIATION, 'w_spread = -1.0'), 'w_spread'),
    'lateral_inhibition_negative': run(cfg(ASSOCIATION, 'lateral_inhibition = "-1 nS"'),
                                       'lateral_inhibition'),
    'time_constant_zero': run(cfg(STDP, top='[model]\ntau_ca = "0 ms"\n'), 'tau_ca'),
    'time_constant_negative': run(cfg(STDP, top='[model]\ntau_ca = "-5 ms"\n'), 'tau_ca'),
    'thresholds_out_of_order': run(cfg(STDP, top='[model]\ntheta_d = "0.9 uM"\n'), 'theta_d'),
    'hold_element_without_unit': run(cfg(PAIRING).replace('["0 mV"]', '["0 mV", "-70"]'),
                                     'hold'),
    'delta_t_unknown_unit': run(cfg(STDP).replace('["10 ms"]', '["10 parsec"]'), 'delta_t'),
    'association_patterns_do_not_fit': run(cfg(ASSOCIATION).replace('pattern_size = 2',
                                                                    'pattern_size = 4'),
                                           'pattern_size'),
    'digits_more_units_than_images': run(cfg(DIGITS).replace('n_train = 20', 'n_train = 3'),
                                         'n_hidden'),
    # ----------------------------------------------------------------- NaN, inf, huge values
    'frequency_nan': run(cfg(STDP, 'frequency = "nan Hz"'), 'frequency'),
    'frequency_inf': run(cfg(STDP, 'frequency = "inf Hz"'), 'frequency'),
    'frequencies_inf': run(cfg(FREQUENCY).replace('10 Hz', 'inf Hz'), 'frequencies'),
    'model_nan': run(cfg(STDP, top='[model]\ntheta_p = "nan uM"\n'), 'theta_p'),
    'model_huge': run(cfg(STDP, top='[model]\ntheta_p = "1e300 uM"\n'), 'theta_p'),
    'model_overflowing_number': run(cfg(STDP, top='[model]\ntheta_p = "1e400 uM"\n'), 'theta_p'),
    'dt_nan': run(cfg(STDP, top='dt = "nan ms"\n'), 'dt'),
    'dt_inf': run(cfg(STDP, top='dt = "inf ms"\n'), 'dt'),
    'dt_tiny': run(cfg(STDP, top='dt = "1e-9 ms"\n'), 'dt'),
    'hold_inf': run(cfg(PAIRING).replace('0 mV', 'inf mV'), 'hold'),
    'delta_t_inf': run(cfg(STDP).replace('10 ms', 'inf ms'), 'delta_t'),
    'delta_t_nan': run(cfg(STDP).replace('10 ms', 'nan ms'), 'delta_t'),
    'mg_nan': run(cfg(MG, 'mg = "nan mM"'), 'mg'),
    'stim_duration_inf': run(cfg(STDP, 'stim_duration = "inf ms"'), 'stim_duration'),
    'burst_interval_inf': run(cfg(STDP, 'n_bursts = 2', 'burst_interval = "inf ms"'),
                              'burst_interval'),
    'train_interval_nan': run(cfg(PAIR_FREQUENCY, 'train_interval = "nan s"'),
                              'train_interval'),
    'presentation_inf': run(cfg(DBN).replace('"10 ms"', '"inf ms"'), 'presentation'),
    'max_rate_nan': run(cfg(ASSOCIATION, 'max_rate = "nan Hz"'), 'max_rate'),
    'fan_in_nan': run(cfg(ASSOCIATION, 'fan_in = nan'), 'fan_in'),
    'fan_in_inf': run(cfg(ASSOCIATION, 'fan_in = inf'), 'fan_in'),
    'n_pulses_huge': run(cfg(PAIRING).replace('n_pulses = 2', 'n_pulses = 99999999999999999999'),
                         'n_pulses'),
    'n_pairs_billion': run(cfg(STDP).replace('n_pairs = 2', 'n_pairs = 1000000000'), 'n_pairs'),
    'run_of_a_million_pairs': run(cfg(STDP).replace('n_pairs = 2', 'n_pairs = 1000000'),
                                  'n_pairs'),
    'burst_interval_1e12_ms': run(cfg(STDP, 'n_bursts = 2', 'burst_interval = "1e12 ms"'),
                                  'burst_interval'),
    'train_interval_1e12_ms': run(cfg(PAIR_FREQUENCY, 'train_interval = "1e12 ms"'),
                                  'train_interval'),
    'frequency_of_one_per_1e12_ms': run(cfg(PAIRING, 'frequency = "1e-9 Hz"'), 'frequency'),
    'presentation_1e12_ms': run(cfg(DBN).replace('"10 ms"', '"1e12 ms"'), 'presentation'),
    'layer_sizes_huge': run(cfg(DBN).replace('[2, 3]', '[1000000, 1000000]'), 'layer_sizes'),
    'association_layers_huge': run(cfg(ASSOCIATION).replace('n_hidden = 4', 'n_hidden = 1000000')
                                   .replace('n_input = 10', 'n_input = 1000000'), 'n_hidden'),
    'stim_duration_shorter_than_dt': run(cfg(STDP, 'stim_duration = "0.01 ms"'),
                                         'stim_duration'),
    'stdp_frequency_period_rounds_to_zero': run(cfg(STDP, 'frequency = "30000 Hz"'),
                                                'frequency'),
    'pairing_frequency_period_rounds_to_zero': run(cfg(PAIRING, 'frequency = "30000 Hz"'),
                                                   'frequency'),
    'depression_period_rounds_to_zero': run(cfg(DEPRESSION).replace('10 Hz', '30000 Hz'),
                                            'frequencies'),
    'pair_frequency_period_rounds_to_zero': run(cfg(PAIR_FREQUENCY).replace('10 Hz', '30000 Hz'),
                                                'frequencies'),
    # ----------------------------------------------------------------- labels
    'label_empty': run(cfg(STDP).replace('label = "s"', 'label = ""'), 'label'),
    'label_blank': run(cfg(STDP).replace('label = "s"', 'label = "  "'), 'label'),
    'label_parent': run(cfg(STDP).replace('label = "s"', 'label = "../x"'), 'label'),
    'label_with_slash': run(cfg(STDP).replace('label = "s"', 'label = "a/b"'), 'label'),
    'label_hidden': run(cfg(STDP).replace('label = "s"', 'label = ".hidden"'), 'label'),
    'label_backslash': run(cfg(STDP).replace('label = "s"', 'label = "a\\\\b"'), 'label'),
    'labels_duplicate': run(STDP + STDP, 'label'),
    'labels_duplicate_default': run(STDP.replace('label = "s"\n', 'label = "stdp_1"\n')
                                    + STDP.replace('label = "s"\n', ''), 'label'),
    # ----------------------------------------------------------------- paths
    'out_is_a_file': argv('--out', 'run', '{cfg}', '--out', '{tmp}/a_file'),
    'out_under_a_file': argv('--out', 'run', '{cfg}', '--out', '{tmp}/a_file/sub'),
    'out_holds_other_files': argv('--out', 'run', '{cfg}', '--out', '{tmp}'),
    'out_unwritable': argv('--out', 'run', '{cfg}', '--out', '{tmp}/locked/out'),
    'config_is_a_folder': argv('config', 'run', '{tmp}', '--out', '{out}'),
    'config_toml_folder': argv('config', 'run', '{tmp}/dir.toml', '--out', '{out}'),
    'config_missing': argv('config', 'run', '{tmp}/missing.toml', '--out', '{out}'),
    'bundled_config_misspelled': argv('config', 'run', 'stpd', '--out', '{out}', also="'stdp'"),
    'preset_unknown': argv('preset', 'run', '{cfg}', '--out', '{out}', '--preset', 'cortex_l6'),
    'preset_missing_file': argv('preset', 'run', '{cfg}', '--out', '{out}', '--preset',
                                '{tmp}/none.toml'),
    'preset_in_config_unknown': run(cfg(STDP, top='preset = "nope"\n'), 'preset'),
    'dir_missing': argv('config', 'run', 'stdp', '--out', '{out}', '--dir', '{tmp}/nowhere'),
    'list_dir_missing': argv('--dir', 'list', '--dir', '{tmp}/nowhere'),
    'list_dir_bad_config': argv('x.toml', 'list', '--dir', '{tmp}/badlist'),
    'sweep_config_missing': argv('config', 'sweep', '{tmp}/missing.toml', '--grid',
                                 'theta_p=0.3 uM:0.6 uM:2', '--out', '{out}'),
    'sweep_out_is_a_file': argv('--out', 'sweep', '{cfg}', '--grid', 'theta_p=0.3 uM:0.6 uM:2',
                                '--out', '{tmp}/a_file'),
    'fit_out_is_a_file': argv('--out', 'fit', 'markram1997', '--out', '{tmp}/a_file'),
    # ----------------------------------------------------------------- encodings
    'latin1_bytes': run('title = "Caf\xe9"\n'.encode('latin-1') + STDP.encode(), 'config'),
    'binary_garbage': run(bytes(range(256)) * 4, 'config'),
    'malformed_toml': run('[[run]\nprotocol = "stdp"\n', 'config'),
    'unterminated_string': run(cfg(STDP, top='title = "x\n'), 'config'),
    'empty_file': run('', 'run'),
    'nul_bytes': run(STDP + '\0\0\0', 'config'),
    # ----------------------------------------------------------------- --set forms
    'set_without_equals': setting('theta_p', '--set'),
    'set_unknown_key': setting('thetap=0.5 uM', 'thetap', also="'theta_p'"),
    'set_bad_value': setting('theta_p=abc', 'theta_p'),
    'set_bad_unit': setting('theta_p=0.5 parsec', 'theta_p'),
    'set_run_table': setting('run.0=5', 'run.0'),
    'set_key_of_title': setting('title.x=1', 'title.x'),
    'set_missing_run': setting('run.99.n_pairs=3', 'run.99'),
    'set_run_not_a_number': setting('run.first.n_pairs=3', 'run.first'),
    'set_run_negative': setting('run.-1.n_pairs=3', 'run.-1'),
    'set_empty_key': setting('=3', '--set'),
    'set_unknown_top_level_path': setting('foo.bar=3', 'foo'),
    'set_key_of_a_parameter': setting('model.theta_p.x=1', 'theta_p'),
    'set_bad_count': setting('run.0.n_pairs=-1', 'n_pairs'),
    'set_label': setting('run.0.label="a/b"', 'label'),
    'set_dt_wrong_unit': setting('dt=0.1 mV', 'dt'),
    # ----------------------------------------------------------------- command line
    'unknown_command': argv('command', 'runn', '{cfg}'),
    'unknown_option': argv('--outt', 'run', '{cfg}', '--outt', '{out}'),
    'missing_config_argument': argv('config', 'run'),
    'fit_starts_not_an_integer': argv('--starts', 'fit', 'markram1997', '--starts', 'x',
                                      '--out', '{out}'),
    # ----------------------------------------------------------------- sweep
    'grid_two_parts': argv('--grid', 'sweep', '{cfg}', '--grid', 'theta_p=1:2', '--out', '{out}'),
    'grid_zero_points': argv('--grid', 'sweep', '{cfg}', '--grid', 'run.0.n_pairs=1:2:0',
                             '--out', '{out}'),
    'grid_words': argv('--grid', 'sweep', '{cfg}', '--grid', 'run.0.n_pairs=a:b:3',
                       '--out', '{out}'),
    'grid_unknown_key': argv('foo', 'sweep', '{cfg}', '--grid', 'foo=1:2:2', '--out', '{out}'),
    'grid_without_equals': argv('--grid', 'sweep', '{cfg}', '--grid', 'theta_p', '--out',
                                '{out}'),
    'grid_none': argv('--grid', 'sweep', '{cfg}', '--out', '{out}'),
    'grid_axis_twice': argv('--grid', 'sweep', '{cfg}', '--grid', 'run.0.n_pairs=2,3',
                            '--grid', 'run.0.n_pairs=4,5', '--out', '{out}'),
    'grid_mixed_units': argv('--grid', 'sweep', '{cfg}', '--grid', 'theta_p=0.3 uM:2 ms:2',
                             '--out', '{out}'),
    'grid_start_with_unit_stop_without': argv('--grid', 'sweep', '{cfg}', '--grid',
                                              'theta_p=0.3 uM:2:2', '--out', '{out}'),
    'grid_n_not_an_integer': argv('--grid', 'sweep', '{cfg}', '--grid', 'run.0.n_pairs=1:5:2.5',
                                  '--out', '{out}'),
    'grid_too_many_points': argv('--grid', 'sweep', '{cfg}', '--grid',
                                 'theta_p=0.3 uM:0.6 uM:100000000', '--out', '{out}'),
    'grid_bad_point': argv('theta_p', 'sweep', '{cfg}', '--grid', 'theta_p=0.3 uM:0.6 mV:2',
                           '--out', '{out}'),
    'grid_point_out_of_range': argv('n_pairs', 'sweep', '{cfg}', '--grid', 'run.0.n_pairs=-2,2',
                                    '--out', '{out}'),
    'grid_list_of_words': argv('--grid', 'sweep', '{cfg}', '--grid', 'theta_p=a,b',
                               '--out', '{out}'),
    'grid_nan': argv('--grid', 'sweep', '{cfg}', '--grid', 'theta_p=nan uM:1 uM:2',
                     '--out', '{out}'),
    'sweep_bad_set': argv('thetap', 'sweep', '{cfg}', '--grid', 'theta_p=0.3 uM:0.6 uM:2',
                          '--set', 'thetap=1 uM', '--out', '{out}'),
    # ----------------------------------------------------------------- fit
    'fit_unknown_dataset': argv('data', 'fit', 'markram1998', '--out', '{out}'),
    'fit_dataset_is_a_folder': argv('data', 'fit', '{tmp}', '--out', '{out}'),
    'fit_dataset_not_utf8': argv('data', 'fit', '{tmp}/latin.csv', '--out', '{out}'),
    'fit_dataset_bad_column': argv('frequency', 'fit', '{tmp}/badcol.csv', '--out', '{out}'),
    'fit_bad_param_name': argv('thetap', 'fit', 'markram1997', '--params', 'thetap',
                               '--out', '{out}', also="'theta_p'"),
    'fit_empty_params': argv('params', 'fit', 'markram1997', '--params', ',', '--out', '{out}'),
    'fit_starts_zero': argv('starts', 'fit', 'markram1997', '--starts', '0', '--out', '{out}'),
    'fit_iterations_negative': argv('iterations', 'fit', 'markram1997', '--iterations', '-1',
                                    '--out', '{out}'),
    'fit_polish_negative': argv('polish', 'fit', 'markram1997', '--polish', '-1',
                                '--out', '{out}'),
    'fit_seed_negative': argv('seed', 'fit', 'markram1997', '--seed', '-1', '--out', '{out}'),
    'fit_seed_too_large': argv('seed', 'fit', 'markram1997', '--seed', '4294967296',
                               '--out', '{out}'),
    'fit_fix_unknown': argv('thetap', 'fit', 'markram1997', '--fix', 'thetap=1 uM',
                            '--out', '{out}'),
    'fit_fix_without_equals': argv('--fix', 'fit', 'markram1997', '--fix', 'theta_p',
                                   '--out', '{out}'),
    'fit_fix_wrong_unit': argv('A_bpap', 'fit', 'markram1997', '--fix', 'A_bpap=40 ms',
                               '--out', '{out}'),
    'fit_free_and_fixed': argv('theta_p', 'fit', 'markram1997', '--params', 'theta_p',
                               '--fix', 'theta_p=0.5 uM', '--out', '{out}'),
    'fit_preset_unknown': argv('preset', 'fit', 'markram1997', '--preset', 'nope',
                               '--out', '{out}'),
}


def _snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob('*')) if p.is_file()}


@pytest.fixture(autouse=True)
def nothing_runs(monkeypatch):
    """Reaching the simulation or the fit is a failure: validation must come first."""
    def refuse(*args, **kwargs):
        raise AssertionError('simulated before the input was validated')
    monkeypatch.setattr(ltp_brainpy.experiments, 'run_protocols', refuse)
    monkeypatch.setattr(ltp_brainpy.fit, 'fit', refuse)


def _prepare(tmp_path: Path, text) -> dict:
    """The files a case may point at, and the pre-filled output folder."""
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'results.json').write_text('{"old": true}\n')
    (out / 'metadata.json').write_text('{"config": "old"}\n')
    (out / 'old.npz').write_bytes(bytes(range(256)) * 3)
    (tmp_path / 'a_file').write_text('keep me')
    (tmp_path / 'dir.toml').mkdir()
    (tmp_path / 'p.toml').write_text('[model]\ntheta_p = "0.5 uM"\nbogus = 1\n')
    (tmp_path / 'latin.csv').write_bytes('id,change,sem\ncaf\xe9,0.1,0.1\n'.encode('latin-1'))
    (tmp_path / 'badcol.csv').write_text(
        'id,change,sem,frequency_Hz,delta_t_ms,n_pairs,n_trains,train_interval_s\n'
        'a,0.1,0.05,fast,10,5,1,4\n')
    (tmp_path / 'badlist').mkdir()
    (tmp_path / 'badlist' / 'x.toml').write_text('title = "x"\n[[run]\n')
    locked = tmp_path / 'locked'
    locked.mkdir()
    locked.chmod(0o500)
    path = tmp_path / 'c.toml'
    text = text.replace('{tmp}', str(tmp_path)) if isinstance(text, str) else text
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding='utf-8')
    return {'{cfg}': str(path), '{out}': str(out), '{tmp}': str(tmp_path)}


@pytest.mark.parametrize('name', list(CASES))
def test_bad_input_is_one_line_exit_2_and_touches_nothing(name, tmp_path, capsys, monkeypatch):
    text, template, field, also = CASES[name]
    if name == 'out_unwritable' and os.geteuid() == 0:
        pytest.skip('root writes through a read-only folder')
    monkeypatch.chdir(tmp_path)  # a default --out would land here, not in the repository
    places = _prepare(tmp_path, text)
    args = []
    for arg in template:
        for key, value in places.items():
            arg = arg.replace(key, value)
        args.append(arg)
    out = Path(places['{out}'])
    before = _snapshot(tmp_path)
    try:
        code = main(args)
    finally:
        (tmp_path / 'locked').chmod(0o700)
    captured = capsys.readouterr()
    err = captured.err
    lines = err.splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].strip(), err
    assert lines[0].startswith('error: '), err
    assert field in lines[0], err
    if also is not None:
        assert also in lines[0], err
    after = _snapshot(tmp_path)
    assert after == before
    assert _snapshot(out) == {'metadata.json': b'{"config": "old"}\n',
                              'old.npz': bytes(range(256)) * 3,
                              'results.json': b'{"old": true}\n'}


def test_enough_cases():
    assert len(CASES) >= 110


@pytest.mark.parametrize('flag', ['--debug', '--quiet'])
def test_global_flags_are_accepted_before_and_after_the_command(flag, tmp_path, capsys,
                                                                monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main([flag, 'list', '--dir', str(CONFIGS)]) == 0
    assert main(['list', '--dir', str(CONFIGS), flag]) == 0
    assert main([flag, 'run', str(tmp_path / 'missing.toml')]) == 2
    assert capsys.readouterr().err.count('\n') == 1


def test_an_internal_failure_is_one_line_and_exit_1_and_debug_shows_the_traceback(
        tmp_path, capsys, monkeypatch):
    def broken(*args, **kwargs):
        raise ZeroDivisionError('deep inside')
    monkeypatch.setattr(ltp_brainpy.experiments, 'run_protocols', broken)
    config = tmp_path / 'c.toml'
    config.write_text(STDP)
    out = tmp_path / 'out'
    # As the ltp-brainpy command runs it (main() reads sys.argv):
    monkeypatch.setattr('sys.argv', ['ltp-brainpy', 'run', str(config), '--out', str(out)])
    assert main() == 1
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and err.startswith('error: ') and 'deep inside' in err
    assert '--debug' in err
    monkeypatch.setattr('sys.argv', ['ltp-brainpy', '--debug', 'run', str(config),
                                     '--out', str(out)])
    assert main() == 1
    err = capsys.readouterr().err
    assert 'Traceback' in err and 'ZeroDivisionError' in err
    assert not out.exists()
    # Called from Python with an argument list, main() lets the exception through.
    with pytest.raises(ZeroDivisionError):
        main(['run', str(config), '--out', str(out)])


def test_quiet_suppresses_the_per_run_printout(tmp_path, capsys, monkeypatch):
    from ltp_brainpy.results import ProtocolResult
    import numpy as np
    seen = {}

    def fake(config, progress=False):
        seen['progress'] = progress
        return {spec.label: ProtocolResult('mg_block', {}, np.array([0.1]), {})
                for spec in config.runs}
    monkeypatch.setattr(ltp_brainpy.experiments, 'run_protocols', fake)
    monkeypatch.setattr(ltp_brainpy.experiments, 'figure_for', lambda *a: _Figure())
    monkeypatch.setattr(ltp_brainpy.experiments, 'evaluate', lambda results: [])
    config = tmp_path / 'c.toml'
    config.write_text(MG)
    assert main(['run', str(config), '--out', str(tmp_path / 'loud')]) == 0
    loud = capsys.readouterr().out
    assert 'weight change' in loud
    assert main(['--quiet', 'run', str(config), '--out', str(tmp_path / 'quiet')]) == 0
    quiet = capsys.readouterr().out
    assert 'weight change' not in quiet and len(quiet.splitlines()) <= 1
    assert seen['progress'] is False


class _Figure:
    def savefig(self, path, **kwargs):
        Path(path).write_bytes(b'\x89PNG')
