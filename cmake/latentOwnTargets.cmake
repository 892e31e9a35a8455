# Settings for the project's own programs (tests, examples, benchmarks, tools), never for
# the installed latent::latent target: warnings, and -march=native when LATENT_NATIVE.
include(CheckCXXCompilerFlag)

if(LATENT_NATIVE)
  check_cxx_compiler_flag("-march=native" LATENT_COMPILER_HAS_MARCH_NATIVE)
endif()

function(latent_own_target target)
  # Plain ISO C++17 (-std=c++17, not gnu++17), as the library promises.
  set_target_properties(${target} PROPERTIES
    CXX_STANDARD 17 CXX_STANDARD_REQUIRED ON CXX_EXTENSIONS OFF)
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic)
  elseif(MSVC)
    target_compile_options(${target} PRIVATE /W4 /permissive-)
  endif()
  if(LATENT_NATIVE AND LATENT_COMPILER_HAS_MARCH_NATIVE)
    target_compile_options(${target} PRIVATE -march=native)
  endif()
endfunction()
