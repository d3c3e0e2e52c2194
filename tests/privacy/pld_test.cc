// Tests of the PLD accountant (privacy/pld.h).
//
// Expected values: Google dp_accounting 0.6.0 (PyPI dp-accounting==0.6.0),
// PLDAccountant (add/remove-one) composing
// PoissonSampledDpEvent(q, GaussianDpEvent(sigma)) `steps` times, i.e.
// privacy_loss_distribution.from_gaussian_mechanism(sampling_prob=q,
// pessimistic_estimate=True, use_connect_dots=True).self_compose(steps);
// get_epsilon(delta) / get_delta(epsilon). Produced by
// tests/privacy/make_pld_reference.py, which records the value
// discretization interval of each row (1e-4, or 1e-4 * eps_rdp / 10 when the
// RDP epsilon is above 10). The closed-form checks use the exact Gaussian
// mechanism (Balle & Wang 2018, "Improving the Gaussian Mechanism for
// Differential Privacy: Analytical Calibration and Optimal Denoising", Thm. 8).
#include "privacy/pld.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <iostream>
#include <limits>
#include <vector>

#include "privacy/accountant.h"

namespace fedrec::privacy {
namespace {

using ::testing::HasSubstr;

struct Point {
  double q;
  double sigma;
  int64_t steps;
  double delta;
  double interval;
  double epsilon;  // dp_accounting 0.6.0
};

// q x sigma x steps x delta = {1e-3, 0.01, 0.1, 1} x {0.5, 1, 2, 4} x
// {1, 10, 100, 1000, 10^4} x {1e-5, 1e-6}.
const Point kGrid[] = {
    {0.001, 0.5, 1, 1e-05, 0.0001, 0.3375997969510768},
    {0.001, 0.5, 1, 1e-06, 0.0001, 1.0852357139195428},
    {0.001, 0.5, 10, 1e-05, 0.0001, 1.0860161371019112},
    {0.001, 0.5, 10, 1e-06, 0.0001, 2.100470455310515},
    {0.001, 0.5, 100, 1e-05, 0.0001, 2.1086455686496888},
    {0.001, 0.5, 100, 1e-06, 0.0001, 3.1445070896317606},
    {0.001, 0.5, 1000, 1e-05, 0.0001, 3.2388806291149876},
    {0.001, 0.5, 1000, 1e-06, 0.0001, 4.235070995933637},
    {0.001, 0.5, 10000, 1e-05, 0.0001, 5.226831069968908},
    {0.001, 0.5, 10000, 1e-06, 0.0001, 6.346136869400886},
    {0.001, 1.0, 1, 1e-05, 0.0001, 0.009111723119726866},
    {0.001, 1.0, 1, 1e-06, 0.0001, 0.021833276386024367},
    {0.001, 1.0, 10, 1e-05, 0.0001, 0.02351450713302672},
    {0.001, 1.0, 10, 1e-06, 0.0001, 0.044098522486068506},
    {0.001, 1.0, 100, 1e-05, 0.0001, 0.055174691358682686},
    {0.001, 1.0, 100, 1e-06, 0.0001, 0.08379167618093925},
    {0.001, 1.0, 1000, 1e-05, 0.0001, 0.14895584401388934},
    {0.001, 1.0, 1000, 1e-06, 0.0001, 0.18557092460846186},
    {0.001, 1.0, 10000, 1e-05, 0.0001, 0.4759870136994363},
    {0.001, 1.0, 10000, 1e-06, 0.0001, 0.5553923482375638},
    {0.001, 2.0, 1, 1e-05, 0.0001, 0.001507429481648035},
    {0.001, 2.0, 1, 1e-06, 0.0001, 0.002864081744215877},
    {0.001, 2.0, 10, 1e-05, 0.0001, 0.0045385356880109935},
    {0.001, 2.0, 10, 1e-06, 0.0001, 0.00659966110908159},
    {0.001, 2.0, 100, 1e-05, 0.0001, 0.014668462143797597},
    {0.001, 2.0, 100, 1e-06, 0.0001, 0.018961936342446317},
    {0.001, 2.0, 1000, 1e-05, 0.0001, 0.0501370377798105},
    {0.001, 2.0, 1000, 1e-06, 0.0001, 0.0613139948939952},
    {0.001, 2.0, 10000, 1e-05, 0.0001, 0.1738469773367732},
    {0.001, 2.0, 10000, 1e-06, 0.0001, 0.2055526895075453},
    {0.001, 4.0, 1, 1e-05, 0.0001, 0.00043936613260709784},
    {0.001, 4.0, 1, 1e-06, 0.0001, 0.0008095841290480483},
    {0.001, 4.0, 10, 1e-05, 0.0001, 0.0016536736389922942},
    {0.001, 4.0, 10, 1e-06, 0.0001, 0.002432570454832294},
    {0.001, 4.0, 100, 1e-05, 0.0001, 0.006061871233130624},
    {0.001, 4.0, 100, 1e-06, 0.0001, 0.008031158776549132},
    {0.001, 4.0, 1000, 1e-05, 0.0001, 0.021872240762307277},
    {0.001, 4.0, 1000, 1e-06, 0.0001, 0.027327582619915032},
    {0.001, 4.0, 10000, 1e-05, 0.0001, 0.07763631171031687},
    {0.001, 4.0, 10000, 1e-06, 0.0001, 0.09337444247386216},
    {0.01, 0.5, 1, 1e-05, 0.0001, 3.025357808748911},
    {0.01, 0.5, 1, 1e-06, 0.0001, 4.285423140277227},
    {0.01, 0.5, 10, 1e-05, 0.0001, 4.360602563620095},
    {0.01, 0.5, 10, 1e-06, 0.0001, 5.5207859322484145},
    {0.01, 0.5, 100, 1e-05, 0.0001, 6.47621021759468},
    {0.01, 0.5, 100, 1e-06, 0.0001, 7.916084314588339},
    {0.01, 0.5, 1000, 1e-05, 0.000154721334181956, 13.360828103544815},
    {0.01, 0.5, 1000, 1e-06, 0.000154721334181956, 15.483530921624537},
    {0.01, 0.5, 10000, 1e-05, 0.0004943426631343529, 43.36678856068543},
    {0.01, 0.5, 10000, 1e-06, 0.0004943426631343529, 47.51732023935143},
    {0.01, 1.0, 1, 1e-05, 0.0001, 0.19945047347212375},
    {0.01, 1.0, 1, 1e-06, 0.0001, 0.3639478577479445},
    {0.01, 1.0, 10, 1e-05, 0.0001, 0.3799023495008464},
    {0.01, 1.0, 10, 1e-06, 0.0001, 0.5923495508828093},
    {0.01, 1.0, 100, 1e-05, 0.0001, 0.7180367095394373},
    {0.01, 1.0, 100, 1e-06, 0.0001, 0.954217952822487},
    {0.01, 1.0, 1000, 1e-05, 0.0001, 1.8282436461194622},
    {0.01, 1.0, 1000, 1e-06, 0.0001, 2.124522530138565},
    {0.01, 1.0, 10000, 1e-05, 0.0001, 6.187744996636386},
    {0.01, 1.0, 10000, 1e-06, 0.0001, 6.907419663251946},
    {0.01, 2.0, 1, 1e-05, 0.0001, 0.028259292316449282},
    {0.01, 2.0, 1, 1e-06, 0.0001, 0.04366681410535356},
    {0.01, 2.0, 10, 1e-05, 0.0001, 0.06552264787747183},
    {0.01, 2.0, 10, 1e-06, 0.0001, 0.085346039034292},
    {0.01, 2.0, 100, 1e-05, 0.0001, 0.18979906161486979},
    {0.01, 2.0, 100, 1e-06, 0.0001, 0.22797995903195142},
    {0.01, 2.0, 1000, 1e-05, 0.0001, 0.6220485251117769},
    {0.01, 2.0, 1000, 1e-06, 0.0001, 0.7209364928585429},
    {0.01, 2.0, 10000, 1e-05, 0.0001, 2.1627736452350517},
    {0.01, 2.0, 10000, 1e-06, 0.0001, 2.4468104572153417},
    {0.01, 4.0, 1, 1e-05, 0.0001, 0.008044457940021824},
    {0.01, 4.0, 1, 1e-06, 0.0001, 0.011603382211945007},
    {0.01, 4.0, 10, 1e-05, 0.0001, 0.024057121822435},
    {0.01, 4.0, 10, 1e-06, 0.0001, 0.030792583761267412},
    {0.01, 4.0, 100, 1e-05, 0.0001, 0.07952390254645844},
    {0.01, 4.0, 100, 1e-06, 0.0001, 0.09632518620261872},
    {0.01, 4.0, 1000, 1e-05, 0.0001, 0.2721729194279513},
    {0.01, 4.0, 1000, 1e-06, 0.0001, 0.31918424323120576},
    {0.01, 4.0, 10000, 1e-05, 0.0001, 0.9469993059852784},
    {0.01, 4.0, 10000, 1e-06, 0.0001, 1.084771581425034},
    {0.1, 0.5, 1, 1e-05, 0.0001, 6.575539809712006},
    {0.1, 0.5, 1, 1e-06, 0.0001, 7.695080694441421},
    {0.1, 0.5, 10, 1e-05, 0.00014418327009829338, 12.261239385903696},
    {0.1, 0.5, 10, 1e-06, 0.00014418327009829338, 14.482599450135623},
    {0.1, 0.5, 100, 1e-05, 0.0003696666522047155, 31.370996707148734},
    {0.1, 0.5, 100, 1e-06, 0.0003696666522047155, 35.32639124966887},
    {0.1, 0.5, 1000, 1e-05, 0.0023645141678090573, 126.16714548889493},
    {0.1, 0.5, 1000, 1e-06, 0.0023645141678090573, 135.06741261048037},
    {0.1, 0.5, 10000, 1e-05, 0.02231298932385247, 783.788375979117},
    {0.1, 0.5, 10000, 1e-06, 0.02231298932385247, 808.1095343420988},
    {0.1, 1.0, 1, 1e-05, 0.0001, 1.6845438210208725},
    {0.1, 1.0, 1, 1e-06, 0.0001, 2.181694110987402},
    {0.1, 1.0, 10, 1e-05, 0.0001, 2.8545189665865034},
    {0.1, 1.0, 10, 1e-06, 0.0001, 3.4659847405260424},
    {0.1, 1.0, 100, 1e-05, 0.0001, 7.046602876945895},
    {0.1, 1.0, 100, 1e-06, 0.0001, 8.058608434943801},
    {0.1, 1.0, 1000, 1e-05, 0.00027163494340026945, 25.204565313543334},
    {0.1, 1.0, 1000, 1e-06, 0.00027163494340026945, 27.550505557659747},
    {0.1, 1.0, 10000, 1e-05, 0.0017010858354738595, 127.88214051897656},
    {0.1, 1.0, 10000, 1e-06, 0.0017010858354738595, 134.51076996104774},
    {0.1, 2.0, 1, 1e-05, 0.0001, 0.36903671421143014},
    {0.1, 2.0, 1, 1e-06, 0.0001, 0.49091986950204924},
    {0.1, 2.0, 10, 1e-05, 0.0001, 0.7984675092239141},
    {0.1, 2.0, 10, 1e-06, 0.0001, 0.9614215827534922},
    {0.1, 2.0, 100, 1e-05, 0.0001, 2.3374001924350662},
    {0.1, 2.0, 100, 1e-06, 0.0001, 2.67503574005599},
    {0.1, 2.0, 1000, 1e-05, 0.0001, 8.279293379674034},
    {0.1, 2.0, 1000, 1e-06, 0.0001, 9.181993939600959},
    {0.1, 2.0, 10000, 1e-05, 0.00038488913766486976, 36.00390267606396},
    {0.1, 2.0, 10000, 1e-06, 0.00038488913766486976, 38.68143848156291},
    {0.1, 4.0, 1, 1e-05, 0.0001, 0.11038562690289545},
    {0.1, 4.0, 1, 1e-06, 0.0001, 0.14195559394913074},
    {0.1, 4.0, 10, 1e-05, 0.0001, 0.30499621687569234},
    {0.1, 4.0, 10, 1e-06, 0.0001, 0.3641809811888478},
    {0.1, 4.0, 100, 1e-05, 0.0001, 0.9828535073525367},
    {0.1, 4.0, 100, 1e-06, 0.0001, 1.1319203583335284},
    {0.1, 4.0, 1000, 1e-05, 0.0001, 3.44434479833003},
    {0.1, 4.0, 1000, 1e-06, 0.0001, 3.868837748529891},
    {0.1, 4.0, 10000, 1e-05, 0.0001451030027108189, 13.49840674004047},
    {0.1, 4.0, 10000, 1e-06, 0.0001451030027108189, 14.774223042882898},
    {1.0, 0.5, 1, 1e-05, 0.00010725509696418232, 9.997256147802746},
    {1.0, 0.5, 1, 1e-06, 0.00010725509696418232, 10.99715121888349},
    {1.0, 0.5, 10, 1e-05, 0.0004880169282486775, 46.21121051910381},
    {1.0, 0.5, 10, 1e-06, 0.0004880169282486775, 49.31927702410416},
    {1.0, 0.5, 100, 1e-05, 0.002948612600716533, 284.3919377791476},
    {1.0, 0.5, 100, 1e-06, 0.002948612600716533, 294.1718758772925},
    {1.0, 0.5, 1000, 1e-05, 0.023117782575788608, 2269.7732466384177},
    {1.0, 0.5, 1000, 1e-06, 0.023117782575788608, 2300.681721942275},
    {1.0, 0.5, 10000, 1e-05, 0.2211177825757886, 20894.52486449272},
    {1.0, 0.5, 10000, 1e-06, 0.2211177825757886, 20992.258924391972},
    {1.0, 1.0, 1, 1e-05, 0.0001, 4.377178100047932},
    {1.0, 1.0, 1, 1e-06, 0.0001, 4.8865541245854205},
    {1.0, 1.0, 10, 1e-05, 0.0001905359753163139, 17.85658690289428},
    {1.0, 1.0, 10, 1e-06, 0.0001905359753163139, 19.423656549433083},
    {1.0, 1.0, 100, 1e-05, 0.0009611630842505602, 91.81730062173608},
    {1.0, 1.0, 100, 1e-06, 0.0009611630842505602, 96.71728333215522},
    {1.0, 1.0, 1000, 1e-05, 0.006548612600716533, 633.9339078952487},
    {1.0, 1.0, 1000, 1e-06, 0.006548612600716533, 649.3892016885744},
    {1.0, 1.0, 10000, 1e-05, 0.0561177825757886, 5429.2271108602645},
    {1.0, 1.0, 10000, 1e-06, 0.0561177825757886, 5478.105699483709},
    {1.0, 2.0, 1, 1e-05, 0.0001, 1.993091407921564},
    {1.0, 2.0, 1, 1e-06, 0.0001, 2.254084656772638},
    {1.0, 2.0, 10, 1e-05, 0.0001, 7.511275931182365},
    {1.0, 2.0, 10, 1e-06, 0.0001, 8.306225083348137},
    {1.0, 2.0, 100, 1e-05, 0.00035081754019056265, 33.103734236087284},
    {1.0, 2.0, 100, 1e-06, 0.00035081754019056265, 35.56634571720462},
    {1.0, 2.0, 1000, 1e-05, 0.0019853553359954904, 191.54961846615137},
    {1.0, 2.0, 1000, 1e-06, 0.0019853553359954904, 199.2849960589431},
    {1.0, 2.0, 10000, 1e-05, 0.014867782575788607, 1463.4507067184206},
    {1.0, 2.0, 10000, 1e-06, 0.014867782575788607, 1487.8784734903293},
    {1.0, 4.0, 1, 1e-05, 0.0001, 0.9263415237403966},
    {1.0, 4.0, 1, 1e-06, 0.0001, 1.0607018640659773},
    {1.0, 4.0, 10, 1e-05, 0.0001, 3.3414095176228638},
    {1.0, 4.0, 10, 1e-06, 0.0001, 3.74721804696425},
    {1.0, 4.0, 100, 1e-05, 0.00014132226163159336, 13.206712684301257},
    {1.0, 4.0, 100, 1e-06, 0.00014132226163159336, 14.450777443063323},
    {1.0, 4.0, 1000, 1e-05, 0.0006742404047319577, 64.16886860941811},
    {1.0, 4.0, 1000, 1e-06, 0.0006742404047319577, 68.04763856710353},
    {1.0, 4.0, 10000, 1e-05, 0.004298612600716533, 418.21733360047625},
    {1.0, 4.0, 10000, 1e-06, 0.004298612600716533, 430.4387799111251},
};

// The rows of /work/shared/docs/dp_reference_points.csv (column eps_pld),
// recomputed with full precision.
const Point kSharedPoints[] = {
    {0.02, 1.3, 500, 1e-05, 0.0001, 1.7100411649767004},
    {0.005, 0.9, 2000, 1e-06, 0.0001, 1.7933994548325198},
    {0.0032, 1.0, 3000, 1e-05, 0.0001, 0.9097734699105741},
    {0.03, 2.5, 300, 1e-05, 0.0001, 0.8272115323532258},
    {0.2, 3.0, 50, 1e-06, 0.0001, 2.3551001205741486},
    {0.0105, 0.7, 200, 1e-05, 0.0001, 2.869247330047654},
    {0.5, 5.0, 20, 1e-05, 0.0001, 1.8460520216477296},
    {1.0, 20.0, 100, 1e-05, 0.0001, 1.9930921423399677},
    {0.00042, 1.05, 50000, 1e-07, 0.0001, 0.5257294648598343},
    {0.07, 1.6, 1200, 1e-06, 0.0001, 9.189388011422128},
};

struct DeltaPoint {
  double q;
  double sigma;
  int64_t steps;
  double epsilon;
  double delta;  // dp_accounting 0.6.0 get_delta, interval 1e-4
};
const DeltaPoint kDeltas[] = {
    {0.01, 1.0, 1000, 0.5, 0.030568480817566995},
    {0.01, 1.0, 1000, 1.0, 0.002612496806356864},
    {0.01, 1.0, 1000, 2.0, 2.665722016488221e-06},
    {0.01, 1.0, 1000, 4.0, 5.730226009367225e-13},
    {0.004266666666666667, 1.1, 14063, 0.5, 0.07596994004807364},
    {0.004266666666666667, 1.1, 14063, 1.0, 0.015532699374429713},
    {0.004266666666666667, 1.1, 14063, 2.0, 0.00011915662036895249},
    {0.004266666666666667, 1.1, 14063, 4.0, 6.912766845697709e-12},
    {0.1, 2.0, 100, 0.5, 0.06295366574285237},
    {0.1, 2.0, 100, 1.0, 0.011497877567278228},
    {0.1, 2.0, 100, 2.0, 8.1811719303942e-05},
    {0.1, 2.0, 100, 4.0, 2.185336883513978e-11},
    {1.0, 4.0, 10, 0.5, 0.15559712328810574},
    {1.0, 4.0, 10, 1.0, 0.06058543924830791},
    {1.0, 4.0, 10, 2.0, 0.003677743883351779},
    {1.0, 4.0, 10, 4.0, 2.104505687063232e-07},
};

// 300 steps of (0.01, 1.0) then 200 steps of (0.05, 2.0); {delta, epsilon}.
const double kTwoRuns[][2] = {
    {1e-05, 1.8642833318859493},
    {1e-06, 2.142155456288204},
};

// DP-SGD on MNIST (TF Privacy tutorial): q = 256/60000, sigma = 1.1, 60
// epochs = 14063 steps, delta = 1e-5; dp_accounting 0.6.0 PLDAccountant at
// its default interval 1e-4.
constexpr double kMnistQ = 256.0 / 60000;
constexpr double kMnistEpsilon = 2.381778813576912;

absl::StatusOr<double> Epsilon(double q, double sigma, int64_t steps, double delta,
                               double interval = 1e-4) {
  const MechanismRun run{q, sigma, steps};
  PldOptions options;
  options.value_discretization_interval = interval;
  return PldEpsilon(std::span<const MechanismRun>(&run, 1), delta, options);
}

absl::StatusOr<double> Delta(double q, double sigma, int64_t steps, double epsilon,
                             double interval = 1e-4) {
  const MechanismRun run{q, sigma, steps};
  PldOptions options;
  options.value_discretization_interval = interval;
  return PldDelta(std::span<const MechanismRun>(&run, 1), epsilon, options);
}

// Agreement with dp_accounting: within 1% and never more than 1% below (an
// epsilon too low is a privacy bug). The implementation follows the same
// algorithm, so the agreement is in fact much closer; `tight` pins that.
void ExpectAgrees(double ours, double ref, double tight, const std::string& what) {
  EXPECT_GE(ours, ref * (1 - 0.01)) << what;
  EXPECT_LE(std::abs(ours - ref), 0.01 * ref) << what;
  EXPECT_LE(std::abs(ours - ref), tight * ref) << what;
}

TEST(PldReference, MnistDpSgd) {
  const auto start = std::chrono::steady_clock::now();
  auto eps = Epsilon(kMnistQ, 1.1, 14063, 1e-5);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(eps.ok()) << eps.status();
  std::cout << "MNIST DP-SGD PLD epsilon " << *eps << " (dp_accounting " << kMnistEpsilon << "), "
            << seconds << " s\n";
  ExpectAgrees(*eps, kMnistEpsilon, 1e-6, "mnist");
  // The tighter accountant: RDP (improved conversion) gives 2.5967.
  auto rdp = PoissonGaussianEpsilon(kMnistQ, 1.1, 14063, 1e-5);
  ASSERT_TRUE(rdp.ok());
  EXPECT_LT(*eps, rdp->epsilon - 0.2);
}

TEST(PldReference, Grid) {
  double max_rel = 0;
  double max_pld_over_rdp = 0;
  int checked = 0;
  for (size_t i = 0; i < std::size(kGrid); i += 2) {
    // Rows i and i + 1 share (q, sigma, steps, interval); one composition.
    const Point& p = kGrid[i];
    const Point& p6 = kGrid[i + 1];
    ASSERT_EQ(p.steps, p6.steps);
    const MechanismRun run{p.q, p.sigma, p.steps};
    PldOptions options;
    options.value_discretization_interval = p.interval;
    for (const Point* pt : {&p, &p6}) {
      auto eps = PldEpsilon(std::span<const MechanismRun>(&run, 1), pt->delta, options);
      ASSERT_TRUE(eps.ok()) << eps.status();
      const std::string what =
          "q=" + std::to_string(pt->q) + " sigma=" + std::to_string(pt->sigma) +
          " steps=" + std::to_string(pt->steps) + " delta=" + std::to_string(pt->delta);
      ExpectAgrees(*eps, pt->epsilon, 1e-5, what);
      max_rel = std::max(max_rel, std::abs(*eps - pt->epsilon) / pt->epsilon);
      ++checked;
      // PLD is the tighter accountant: never above the RDP epsilon (improved
      // conversion, default orders) by more than 0.1%.
      auto rdp = PoissonGaussianEpsilon(pt->q, pt->sigma, pt->steps, pt->delta);
      ASSERT_TRUE(rdp.ok());
      EXPECT_LE(*eps, rdp->epsilon * 1.001) << what;
      max_pld_over_rdp = std::max(max_pld_over_rdp, *eps / rdp->epsilon);
    }
  }
  std::cout << checked << " grid points, max relative difference " << max_rel << ", max PLD / RDP "
            << max_pld_over_rdp << "\n";
}

TEST(PldReference, SharedReferencePoints) {
  for (const Point& p : kSharedPoints) {
    auto eps = Epsilon(p.q, p.sigma, p.steps, p.delta, p.interval);
    ASSERT_TRUE(eps.ok()) << eps.status();
    ExpectAgrees(*eps, p.epsilon, 1e-5, "shared q=" + std::to_string(p.q));
  }
}

TEST(PldReference, DeltaForEpsilon) {
  for (const DeltaPoint& p : kDeltas) {
    auto delta = Delta(p.q, p.sigma, p.steps, p.epsilon);
    ASSERT_TRUE(delta.ok()) << delta.status();
    // Never more than 1% below; relative agreement 1e-4 down to the FFT's
    // rounding floor (~1e-12 absolute: the rows at epsilon 4 have deltas of
    // 5.7e-13 and 6.9e-12, where both implementations are at that floor, and
    // an FMA build's FFT lands 1% lower on the first).
    EXPECT_GE(*delta, p.delta * (1 - 0.01) - 1e-12) << p.q << " " << p.epsilon;
    EXPECT_NEAR(*delta, p.delta, 1e-4 * p.delta + 1e-12) << p.q << " " << p.epsilon;
  }
}

TEST(PldReference, TwoRunsCompose) {
  const std::vector<MechanismRun> runs = {{0.01, 1.0, 300}, {0.05, 2.0, 200}};
  for (const auto& row : kTwoRuns) {
    auto eps = PldEpsilon(runs, row[0]);
    ASSERT_TRUE(eps.ok()) << eps.status();
    ExpectAgrees(*eps, row[1], 1e-5, "two runs");
  }
  // Order does not matter; equal runs merge.
  const std::vector<MechanismRun> reversed = {
      {0.05, 2.0, 150}, {0.01, 1.0, 300}, {0.05, 2.0, 50}, {0.3, 1.0, 0}, {0.0, 0.5, 7}};
  auto a = PldEpsilon(runs, 1e-5);
  auto b = PldEpsilon(reversed, 1e-5);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NEAR(*a, *b, 1e-9 * *a);
}

// The exact (epsilon, delta) curve of the Gaussian mechanism with L2
// sensitivity 1 and noise std s [Balle & Wang 2018, Thm. 8]:
//   delta(eps) = Phi(1/(2s) - eps s) - e^eps Phi(-1/(2s) - eps s).
double GaussianDelta(double s, double eps) {
  auto phi = [](double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); };
  return phi(0.5 / s - eps * s) - std::exp(eps) * phi(-0.5 / s - eps * s);
}
double GaussianEpsilon(double s, double delta) {
  double lo = 0;
  double hi = 1;
  while (GaussianDelta(s, hi) > delta) hi *= 2;
  for (int i = 0; i < 200; ++i) {
    const double mid = 0.5 * (lo + hi);
    (GaussianDelta(s, mid) > delta ? lo : hi) = mid;
  }
  return hi;
}

TEST(PldClosedForm, FullBatchIsTheGaussianMechanism) {
  // q = 1: T steps of noise sigma are one Gaussian with std sigma / sqrt(T).
  for (double sigma : {0.5, 1.0, 2.0, 4.0, 10.0}) {
    for (int64_t steps : {1, 10, 100}) {
      for (double delta : {1e-5, 1e-6}) {
        const double exact = GaussianEpsilon(sigma / std::sqrt(static_cast<double>(steps)), delta);
        const double interval = 1e-4 * std::max(1.0, exact / 10);
        auto eps = Epsilon(1.0, sigma, steps, delta, interval);
        ASSERT_TRUE(eps.ok()) << eps.status();
        // Pessimistic: never below the exact value; above it by at most 1e-5
        // relative (measured: <= 3e-7; connect-the-dots is that tight).
        EXPECT_GE(*eps, exact * (1 - 1e-9)) << sigma << " " << steps << " " << delta;
        EXPECT_LE(*eps, exact * (1 + 1e-5)) << sigma << " " << steps << " " << delta;
        auto d = Delta(1.0, sigma, steps, exact, interval);
        ASSERT_TRUE(d.ok());
        EXPECT_GE(*d, delta * (1 - 1e-6));
      }
    }
  }
}

TEST(PldClosedForm, OneStepDeltaIsAnUpperBound) {
  // The connect-the-dots PMF dominates the exact hockey-stick curve
  // everywhere, for the REMOVE and the ADD pairs.
  for (double q : {0.01, 0.2, 1.0}) {
    for (double sigma : {0.7, 2.0}) {
      auto pld = PoissonGaussianPld(q, sigma);
      ASSERT_TRUE(pld.ok()) << pld.status();
      EXPECT_EQ(pld->add.has_value(), q < 1);
      for (double eps = 0; eps < 6; eps += 0.031) {
        const double exact_remove = PoissonGaussianHockeyStick(q, sigma, false, eps);
        EXPECT_GE(pld->remove.DeltaForEpsilon(eps), exact_remove - 1e-14) << q << " " << eps;
        EXPECT_LE(pld->remove.DeltaForEpsilon(eps), exact_remove + 1e-6) << q << " " << eps;
        if (pld->add.has_value()) {
          const double exact_add = PoissonGaussianHockeyStick(q, sigma, true, eps);
          EXPECT_GE(pld->add->DeltaForEpsilon(eps), exact_add - 1e-14) << q << " " << eps;
          EXPECT_LE(pld->add->DeltaForEpsilon(eps), exact_add + 1e-6) << q << " " << eps;
        }
      }
      // The PMF is a distribution: the second differences of the deltas carry
      // rounding noise of ~1e-12 per grid point, and clipping it at 0 adds a
      // little mass (on the pessimistic side), as in dp_accounting.
      double total = pld->remove.infinity_mass();
      for (double p : pld->remove.probs()) total += p;
      EXPECT_GE(total, 1.0 - 1e-12);
      EXPECT_LE(total, 1.0 + 1e-7);
    }
  }
  // q = 1: the exact curve is the Gaussian one (independent formula).
  for (double eps : {0.0, 0.5, 1.0, 3.0}) {
    EXPECT_NEAR(PoissonGaussianHockeyStick(1.0, 1.5, false, eps), GaussianDelta(1.5, eps), 1e-14);
    EXPECT_NEAR(PoissonGaussianHockeyStick(1.0, 1.5, true, eps), GaussianDelta(1.5, eps), 1e-14);
  }
}

TEST(Pld, DeltaIsMonotoneAndInvertsEpsilon) {
  const std::vector<MechanismRun> runs = {{0.02, 0.9, 500}, {0.1, 3.0, 40}};
  auto pld = ComposedPld::Create(runs);
  ASSERT_TRUE(pld.ok()) << pld.status();
  ASSERT_TRUE(pld->add().has_value());
  double previous = 1;
  for (double eps = 0; eps <= 8; eps += 0.05) {
    auto d = pld->Delta(eps);
    ASSERT_TRUE(d.ok());
    EXPECT_LE(*d, previous) << eps;
    previous = *d;
  }
  EXPECT_LT(previous, 1e-10);
  for (double delta : {1e-3, 1e-5, 1e-8}) {
    auto eps = pld->Epsilon(delta);
    ASSERT_TRUE(eps.ok());
    EXPECT_EQ(*eps, *PldEpsilon(runs, delta));
    auto d = pld->Delta(*eps);
    ASSERT_TRUE(d.ok());
    EXPECT_LE(*d, delta * (1 + 1e-9));
    auto d_below = pld->Delta(*eps - 1e-3);
    ASSERT_TRUE(d_below.ok());
    EXPECT_GT(*d_below, delta);
    // Epsilon is monotone in delta.
    auto eps_smaller_delta = pld->Epsilon(delta / 10);
    ASSERT_TRUE(eps_smaller_delta.ok());
    EXPECT_GT(*eps_smaller_delta, *eps);
  }
  // Epsilon is monotone in steps and in sigma.
  double last = 0;
  for (int64_t steps : {1, 10, 100, 1000}) {
    auto eps = Epsilon(0.05, 1.0, steps, 1e-5);
    ASSERT_TRUE(eps.ok());
    EXPECT_GT(*eps, last);
    last = *eps;
  }
  last = std::numeric_limits<double>::infinity();
  for (double sigma : {0.6, 0.8, 1.0, 1.5, 3.0}) {
    auto eps = Epsilon(0.05, sigma, 100, 1e-5);
    ASSERT_TRUE(eps.ok());
    EXPECT_LT(*eps, last);
    last = *eps;
  }
}

TEST(Pld, SpecialCasesAndErrors) {
  // Nothing released: epsilon 0, delta 0.
  const std::vector<MechanismRun> nothing = {{0.0, 1.0, 10}, {0.5, 1.0, 0}};
  EXPECT_EQ(*PldEpsilon(nothing, 1e-5), 0.0);
  EXPECT_EQ(*PldDelta(nothing, 0.0), 0.0);
  EXPECT_EQ(*PldEpsilon({}, 1e-5), 0.0);
  // sigma = 0 releases the data.
  const std::vector<MechanismRun> open = {{0.01, 1.0, 10}, {0.1, 0.0, 1}};
  EXPECT_EQ(*PldEpsilon(open, 1e-5), std::numeric_limits<double>::infinity());
  EXPECT_EQ(*PldDelta(open, 3.0), 1.0);
  // A tiny sigma: the +inf mass exceeds delta.
  auto tiny = Epsilon(1.0, 0.05, 1, 1e-30, 1e-2);
  ASSERT_TRUE(tiny.ok()) << tiny.status();
  EXPECT_EQ(*tiny, std::numeric_limits<double>::infinity());

  const MechanismRun fixed{0.01, 1.0, 10, SamplingScheme::kFixedSize};
  auto f = PldEpsilon(std::span<const MechanismRun>(&fixed, 1), 1e-5);
  EXPECT_EQ(f.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(f.status().message()), HasSubstr("RDP accountant"));

  EXPECT_EQ(Epsilon(1.5, 1.0, 10, 1e-5).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Epsilon(0.1, -1.0, 10, 1e-5).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Epsilon(0.1, 1.0, -1, 1e-5).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Epsilon(0.1, 1.0, 10, 0.0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Epsilon(0.1, 1.0, 10, 1e-5, 0.0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Delta(0.1, 1.0, 10, -1.0).status().code(), absl::StatusCode::kInvalidArgument);
  // A PLD that would not fit (q = 1, sigma = 0.5, 10^4 steps at 1e-4: the
  // window of the composed loss spans some 3000 nats): a clear OutOfRange naming the
  // interval; at the interval the reference used it works.
  auto big = Epsilon(1.0, 0.5, 10000, 1e-5);
  EXPECT_EQ(big.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(std::string(big.status().message()), HasSubstr("discretization interval"));
}

TEST(Pld, TenThousandStepsAreFast) {
  const auto start = std::chrono::steady_clock::now();
  auto eps = Epsilon(0.01, 1.0, 10000, 1e-5);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(eps.ok());
  std::cout << "10^4 steps of q = 0.01, sigma = 1: epsilon " << *eps << " in " << seconds << " s\n";
#if defined(NDEBUG) && !defined(__SANITIZE_ADDRESS__)
  EXPECT_LT(seconds, 2.0);
#endif
}

TEST(PldCalibration, RoundTripAndTighterThanRdp) {
  PldCalibrationOptions options;
  options.rel_tol = 1e-5;
  auto sigma = CalibrateNoiseMultiplierPld(kMnistQ, 14063, 1e-5, kMnistEpsilon + 1e-6, options);
  ASSERT_TRUE(sigma.ok()) << sigma.status();
  EXPECT_NEAR(*sigma, 1.1, 1e-3);
  auto eps = Epsilon(kMnistQ, *sigma, 14063, 1e-5);
  ASSERT_TRUE(eps.ok());
  EXPECT_LE(*eps, kMnistEpsilon + 1e-6);
  // The same target needs more noise under RDP.
  auto rdp_sigma = CalibrateNoiseMultiplier(kMnistQ, 14063, 1e-5, kMnistEpsilon);
  ASSERT_TRUE(rdp_sigma.ok());
  EXPECT_GT(*rdp_sigma, *sigma + 0.05);

  for (double target : {0.5, 8.0}) {
    auto s = CalibrateNoiseMultiplierPld(0.05, 300, 1e-6, target, options);
    ASSERT_TRUE(s.ok()) << s.status();
    auto e = Epsilon(0.05, *s, 300, 1e-6);
    ASSERT_TRUE(e.ok());
    EXPECT_LE(*e, target);
    auto e_less = Epsilon(0.05, *s * (1 - 1e-3), 300, 1e-6);
    ASSERT_TRUE(e_less.ok());
    EXPECT_GT(*e_less, target);
  }
  EXPECT_EQ(*CalibrateNoiseMultiplierPld(0.0, 100, 1e-5, 1.0), 0.0);
  EXPECT_EQ(*CalibrateNoiseMultiplierPld(0.1, 0, 1e-5, 1.0), 0.0);
  EXPECT_EQ(CalibrateNoiseMultiplierPld(0.1, 10, 1e-5, 0.0).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace fedrec::privacy
