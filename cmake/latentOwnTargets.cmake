# Settings for the project's own programs (tests, examples, benchmarks, tools), never for
# the installed latent::latent target: warnings, -march=native when LATENT_NATIVE, and
# for GCC the two flags that let it vectorise elementwise loops at -O2 (docs/performance.md):
#   -fvect-cost-model=dynamic  GCC 12's -O2 skips every loop whose trip count it does not
#                              know (x[i] * y[i] over n elements stays scalar)
#   -fno-trapping-math         a select such as v > 0 ? v : slope * v is vectorised only
#                              when a compare may not trap (clang's default); the values
#                              computed are the same, only floating-point flags could differ
include(CheckCXXCompilerFlag)

if(LATENT_NATIVE)
  check_cxx_compiler_flag("-march=native" LATENT_COMPILER_HAS_MARCH_NATIVE)
endif()

function(latent_own_target target)
  # Plain ISO C++17 (-std=c++17, not gnu++17), as the library promises, or the standard
  # asked for with -DCMAKE_CXX_STANDARD (CI builds the suite in C++20 too).
  if(CMAKE_CXX_STANDARD)
    set(_latent_standard ${CMAKE_CXX_STANDARD})
  else()
    set(_latent_standard 17)
  endif()
  set_target_properties(${target} PROPERTIES
    CXX_STANDARD ${_latent_standard} CXX_STANDARD_REQUIRED ON CXX_EXTENSIONS OFF)
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic)
  endif()
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${target} PRIVATE -fvect-cost-model=dynamic -fno-trapping-math)
  endif()
  if(MSVC)
    target_compile_options(${target} PRIVATE /W4 /permissive-)
  endif()
  if(LATENT_NATIVE AND LATENT_COMPILER_HAS_MARCH_NATIVE)
    target_compile_options(${target} PRIVATE -march=native)
  endif()
endfunction()
